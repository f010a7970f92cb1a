/* outbound/dsn.c: building delivery status notifications (pure). */
#include "autoconf.h"

#include "outbound/dsn.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void add(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n + 1;
		char *grown = realloc(o->buf, cap);

		if (grown == NULL) {
			o->oom = true;
			return;
		}
		o->buf = grown;
		o->cap = cap;
	}
}

/* Append bytes with every line ending made CRLF. */
static void add_crlf(struct out *o, const char *p, size_t len)
{
	size_t need = o->len + 2 * len + 3;

	if (o->oom)
		return;
	if (need > o->cap) {
		char *grown = realloc(o->buf, need);

		if (grown == NULL) {
			o->oom = true;
			return;
		}
		o->buf = grown;
		o->cap = need;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			o->buf[o->len++] = '\r';
		o->buf[o->len++] = p[i];
	}
	if (len > 0 && p[len - 1] != '\n') {
		o->buf[o->len++] = '\r';
		o->buf[o->len++] = '\n';
	}
	o->buf[o->len] = '\0';
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

/* The message header and the first part, for people: who could not be
 * reached and why. */
static void add_notification(struct out *o, const struct dsn_info *in,
			     const char *now, const char *boundary)
{
	add(o, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	       "To: <%s>\r\n"
	       "Subject: Undelivered Mail Returned to Sender\r\n"
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
	       "Your message could not be delivered to one or more recipients.\r\n"
	       "%s"
	       "\r\n",
	       in->reporting_mta, in->sender, now, in->msgid, in->reporting_mta,
	       boundary, boundary, in->reporting_mta,
	       in->expired ? "It stayed in the queue longer than allowed and "
			     "was given up.\r\n" : "");
	for (size_t i = 0; i < in->n_rcpts; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];

		add(o, "<%s>: %s\r\n", r->addr,
		    r->diag != NULL ? r->diag : "delivery failed");
	}
}

/* The message/delivery-status part (RFC 3464): one block per recipient. */
static void add_status(struct out *o, const struct dsn_info *in,
		       const char *now, const char *boundary)
{
	char arrival[64], st[16];

	rfc5322_date(in->arrival, arrival, sizeof(arrival));
	add(o, "\r\n--%s\r\n"
	       "Content-Description: Delivery report\r\n"
	       "Content-Type: message/delivery-status\r\n"
	       "\r\n"
	       "Reporting-MTA: dns; %s\r\n"
	       "Arrival-Date: %s\r\n",
	       boundary, in->reporting_mta, arrival);
	for (size_t i = 0; i < in->n_rcpts; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];
		const char *status = r->status != NULL
			? r->status
			: in->expired ? "4.4.7"
				      : dsn_status_of(r->diag, st, sizeof(st));

		add(o, "\r\nFinal-Recipient: rfc822; %s\r\n"
		       "Action: failed\r\n"
		       "Status: %s\r\n", r->addr, status);
		if (r->remote_mta != NULL && is_smtp_reply(r->diag))
			add(o, "Remote-MTA: dns; %s\r\n", r->remote_mta);
		if (is_smtp_reply(r->diag))
			add(o, "Diagnostic-Code: smtp; %s\r\n", r->diag);
		add(o, "Last-Attempt-Date: %s\r\n", now);
	}
}

/* The last part: the returned message's header, then the closing
 * boundary. */
static void add_returned_headers(struct out *o, const struct dsn_info *in,
				 const char *boundary)
{
	add(o, "\r\n--%s\r\n"
	       "Content-Description: Undelivered Message Headers\r\n"
	       "Content-Type: text/rfc822-headers\r\n"
	       "\r\n", boundary);
	if (in->headers != NULL) {
		size_t hl = in->headers_len;

		/* The part ends where the headers do, not at their blank line. */
		if (hl >= 2 && in->headers[hl - 1] == '\n' &&
		    in->headers[hl - 2] == '\n')
			hl--;
		else if (hl >= 4 && memcmp(in->headers + hl - 4, "\r\n\r\n", 4) == 0)
			hl -= 2;
		add_crlf(o, in->headers, hl);
	}
	add(o, "\r\n--%s--\r\n", boundary);
}

int dsn_build(const struct dsn_info *in, char **text_r, size_t *len_r)
{
	struct out o = { .cap = 4096 };
	char now[64], boundary[128];

	if (in->n_rcpts == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((o.buf = malloc(o.cap)) == NULL)
		return -1;
	rfc5322_date(in->now, now, sizeof(now));
	snprintf(boundary, sizeof(boundary), "%s/%s", in->msgid,
		 in->reporting_mta);
	add_notification(&o, in, now, boundary);
	add_status(&o, in, now, boundary);
	add_returned_headers(&o, in, boundary);
	if (o.oom) {
		free(o.buf);
		errno = ENOMEM;
		return -1;
	}
	*text_r = o.buf;
	*len_r = o.len;
	return 0;
}
