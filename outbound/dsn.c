/* outbound/dsn.c: building delivery status notifications (pure): failed,
 * delayed, delivered and relayed reports. */
#include "autoconf.h"

#include "outbound/dsn.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/crlf.h"
#include "common/base/strbuf.h"
#include "common/mail/xtext.h"

/* Append bytes with every line ending made CRLF, and a CRLF after a last
 * line that has none. */
static void add_crlf(struct strbuf *o, const char *p, size_t len)
{
	bool prev_cr = false;
	char *room = strbuf_room(o, 2 * len + 2);

	if (room == NULL)
		return;
	size_t n = crlf_convert(&prev_cr, p, len, room);

	if (len > 0 && p[len - 1] != '\n') {
		room[n++] = '\r';
		room[n++] = '\n';
	}
	strbuf_grew(o, n);
}

static void rfc5322_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

const char *dsn_status_of(const char *reply, char *buf, size_t size)
{
	const char *p;
	int a, b, c, used = 0;

	if (reply == NULL || !isdigit((unsigned char)reply[0]) ||
	    !isdigit((unsigned char)reply[1]) ||
	    !isdigit((unsigned char)reply[2]) ||
	    (reply[0] != '4' && reply[0] != '5')) {
		snprintf(buf, size, "4.4.1");
		return buf;
	}
	p = reply + 3;
	while (*p == ' ' || *p == '-')
		p++;
	/* RFC 3463: class.subject.detail, 1-3 digits each. */
	if (sscanf(p, "%1d.%3d.%3d%n", &a, &b, &c, &used) == 3 &&
	    a == reply[0] - '0' && (p[used] == '\0' || p[used] == ' ')) {
		snprintf(buf, size, "%d.%d.%d", a, b, c);
		return buf;
	}
	snprintf(buf, size, "%c.0.0", reply[0]);
	return buf;
}

size_t dsn_header_len(const char *msg, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (i + 1 < len && msg[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && msg[i + 1] == '\r' && msg[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

static bool is_smtp_reply(const char *diag)
{
	return diag != NULL && isdigit((unsigned char)diag[0]) &&
	       isdigit((unsigned char)diag[1]) &&
	       isdigit((unsigned char)diag[2]) &&
	       (diag[3] == '\0' || diag[3] == ' ' || diag[3] == '-');
}

/* The words of each action: the Subject, the first sentence of part 1,
 * and the default status (RFC 3464 §2.3.4: delivered and relayed are
 * 2.x.x). */
static const struct {
	const char *subject;
	const char *lead;
	const char *status;
} actions[] = {
	[DSN_ACTION_FAILED] = {
		"Undelivered Mail Returned to Sender",
		"Your message could not be delivered to one or more recipients.",
		NULL },
	[DSN_ACTION_DELAYED] = {
		"Delayed Mail (still being retried)",
		"Your message has not been delivered yet to one or more recipients;\r\n"
		"it stays queued and is tried again. You need not send it again.",
		NULL },
	[DSN_ACTION_DELIVERED] = {
		"Successful Mail Delivery Report",
		"Your message was delivered to the mailbox of the recipients below.",
		"2.0.0" },
	[DSN_ACTION_RELAYED] = {
		"Successful Mail Delivery Report",
		"Your message was passed on to the next mail server of the recipients\r\n"
		"below, which does not report deliveries: no further report will come\r\n"
		"for them.",
		"2.0.0" },
};

static const char *const action_names[] = {
	[DSN_ACTION_FAILED] = "failed", [DSN_ACTION_DELAYED] = "delayed",
	[DSN_ACTION_DELIVERED] = "delivered", [DSN_ACTION_RELAYED] = "relayed",
};

/* Further sentences of part 1: expiry, the retry limit, a capped return. */
static void add_explanation(struct strbuf *o, const struct dsn_info *in)
{
	char until[64];

	if (in->expired)
		strbuf_addf(o, "It stayed in the queue longer than allowed and was given up.\r\n");
	if (in->action == DSN_ACTION_DELAYED) {
		rfc5322_date(in->retry_until, until, sizeof(until));
		strbuf_addf(o, "Delivery will be tried until %s.\r\n", until);
	}
	if (in->capped)
		strbuf_addf(o, "The message was larger than %zu KiB, so only its header\r\n"
		       "section is returned.\r\n", in->cap / 1024);
}

/* The message header and the first part, for people: who is concerned
 * and why. */
static void add_notification(struct strbuf *o, const struct dsn_info *in,
			     const char *now, const char *boundary)
{
	strbuf_addf(o, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	       "To: <%s>\r\n"
	       "Subject: %s\r\n"
	       "Date: %s\r\n"
	       "Message-ID: <%s@%s>\r\n"
	       "Auto-Submitted: auto-replied\r\n"
	       "MIME-Version: 1.0\r\n"
	       "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	       "\tboundary=\"%s\"\r\n"
	       "\r\n"
	       "This is a MIME-encapsulated message.\r\n"
	       "\r\n"
	       "--%s\r\n"
	       "Content-Description: Notification\r\n"
	       "Content-Type: text/plain; charset=utf-8\r\n"
	       "\r\n"
	       "This is the mail system at host %s.\r\n"
	       "\r\n"
	       "%s\r\n",
	       in->reporting_mta, in->sender, actions[in->action].subject, now,
	       in->msgid, in->reporting_mta, boundary, boundary,
	       in->reporting_mta, actions[in->action].lead);
	add_explanation(o, in);
	strbuf_addf(o, "\r\n");
	for (size_t i = 0; i < in->n_rcpts; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];

		strbuf_addf(o, "<%s>: %s\r\n", r->addr,
		    r->diag != NULL ? r->diag : action_names[in->action]);
	}
}

/* Original-Recipient (RFC 3464 §2.3.1): the ORCPT's type and its address
 * decoded from xtext (kept as sent if it does not decode to printable
 * text). */
static void add_original_recipient(struct strbuf *o, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	char addr[1024];

	if (semi == NULL || xtext_decode_printable(semi + 1, strlen(semi + 1),
						   addr, sizeof(addr)) < 0) {
		strbuf_addf(o, "Original-Recipient: %s\r\n", orcpt);
		return;
	}
	strbuf_addf(o, "Original-Recipient: %.*s;%s\r\n", (int)(semi - orcpt), orcpt,
	    addr);
}

/* One recipient's group (RFC 3464 §2.3). */
static void add_rcpt_fields(struct strbuf *o, const struct dsn_info *in,
			    const struct dsn_rcpt *r, const char *now)
{
	char st[16], until[64];
	const char *status = r->status != NULL ? r->status
		: actions[in->action].status != NULL ? actions[in->action].status
		: in->expired ? "4.4.7"
			      : dsn_status_of(r->diag, st, sizeof(st));

	strbuf_addf(o, "\r\n");
	if (r->orcpt != NULL && r->orcpt[0] != '\0')
		add_original_recipient(o, r->orcpt);
	strbuf_addf(o, "Final-Recipient: rfc822; %s\r\n"
	       "Action: %s\r\n"
	       "Status: %s\r\n", r->addr, action_names[in->action], status);
	if (r->remote_mta != NULL && is_smtp_reply(r->diag))
		strbuf_addf(o, "Remote-MTA: dns; %s\r\n", r->remote_mta);
	if (is_smtp_reply(r->diag))
		strbuf_addf(o, "Diagnostic-Code: smtp; %s\r\n", r->diag);
	strbuf_addf(o, "Last-Attempt-Date: %s\r\n", now);
	if (in->action == DSN_ACTION_DELAYED) {
		rfc5322_date(in->retry_until, until, sizeof(until));
		strbuf_addf(o, "Will-Retry-Until: %s\r\n", until);
	}
}

/* The message/delivery-status part (RFC 3464): the message's group, then
 * one per recipient. */
static void add_status(struct strbuf *o, const struct dsn_info *in,
		       const char *now, const char *boundary)
{
	char arrival[64];

	rfc5322_date(in->arrival, arrival, sizeof(arrival));
	strbuf_addf(o, "\r\n--%s\r\n"
	       "Content-Description: Delivery report\r\n"
	       "Content-Type: message/delivery-status\r\n"
	       "\r\n", boundary);
	if (in->envid != NULL && in->envid[0] != '\0')
		strbuf_addf(o, "Original-Envelope-Id: %s\r\n", in->envid);
	strbuf_addf(o, "Reporting-MTA: dns; %s\r\n"
	       "Arrival-Date: %s\r\n", in->reporting_mta, arrival);
	for (size_t i = 0; i < in->n_rcpts; i++)
		add_rcpt_fields(o, in, &in->rcpts[i], now);
}

bool dsn_has_8bit(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] >= 0x80)
			return true;
	return false;
}

/* The last part: the returned message or its header section, then the
 * closing boundary. */
static void add_returned(struct strbuf *o, const struct dsn_info *in,
			 const char *boundary)
{
	size_t hl = in->content_len;

	if (in->full) {
		strbuf_addf(o, "\r\n--%s\r\n"
		       "Content-Description: Undelivered Message\r\n"
		       "Content-Type: message/rfc822\r\n%s"
		       "\r\n", boundary,
		    dsn_has_8bit(in->content, in->content_len)
			    ? "Content-Transfer-Encoding: 8bit\r\n" : "");
		add_crlf(o, in->content, in->content_len);
		strbuf_addf(o, "\r\n--%s--\r\n", boundary);
		return;
	}
	strbuf_addf(o, "\r\n--%s\r\n"
	       "Content-Description: Undelivered Message Headers\r\n"
	       "Content-Type: text/rfc822-headers\r\n"
	       "\r\n", boundary);
	if (in->content != NULL) {
		/* The part ends where the headers do, not at their blank line. */
		if (hl >= 2 && in->content[hl - 1] == '\n' &&
		    in->content[hl - 2] == '\n')
			hl--;
		else if (hl >= 4 && memcmp(in->content + hl - 4, "\r\n\r\n", 4) == 0)
			hl -= 2;
		add_crlf(o, in->content, hl);
	}
	strbuf_addf(o, "\r\n--%s--\r\n", boundary);
}

int dsn_build(const struct dsn_info *in, char **text_r, size_t *len_r)
{
	struct strbuf o = STRBUF_INIT;
	char now[64], boundary[128];

	if (in->n_rcpts == 0 || (unsigned)in->action > DSN_ACTION_RELAYED) {
		errno = EINVAL;
		return -1;
	}
	rfc5322_date(in->now, now, sizeof(now));
	snprintf(boundary, sizeof(boundary), "%s/%s", in->msgid,
		 in->reporting_mta);
	add_notification(&o, in, now, boundary);
	add_status(&o, in, now, boundary);
	add_returned(&o, in, boundary);
	if ((*text_r = strbuf_take(&o, len_r)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
