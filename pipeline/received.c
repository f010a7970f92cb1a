/* pipeline/received.c: Return-Path and Received trace header formatting. */
#include "autoconf.h"

#include "pipeline/received.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const DAYS[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
				    "Fri", "Sat" };
static const char *const MONTHS[] = { "Jan", "Feb", "Mar", "Apr", "May",
				      "Jun", "Jul", "Aug", "Sep", "Oct",
				      "Nov", "Dec" };

const char *received_protocol(bool esmtp, bool tls, bool auth, bool utf8)
{
	static const char *const esmtp_kw[] = { "ESMTP", "ESMTPA", "ESMTPS",
						"ESMTPSA" };
	static const char *const utf8_kw[] = { "UTF8SMTP", "UTF8SMTPA",
					       "UTF8SMTPS", "UTF8SMTPSA" };
	int i = (tls ? 2 : 0) + (auth ? 1 : 0);

	if (utf8)
		return utf8_kw[i];
	if (!esmtp)
		return "SMTP";
	return esmtp_kw[i];
}

long received_utc_offset(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_gmtoff;
}

size_t received_date(time_t t, long utc_offset, char *buf, size_t size)
{
	struct tm tm;
	time_t local = t + utc_offset;
	long off = utc_offset / 60;
	char sign = off < 0 ? '-' : '+';
	int n;

	if (off < 0)
		off = -off;
	gmtime_r(&local, &tm);
	n = snprintf(buf, size, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
		     DAYS[tm.tm_wday], tm.tm_mday, MONTHS[tm.tm_mon],
		     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
		     off / 60, off % 60);
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* Copy a clause word keeping only harmless bytes: for an EHLO name,
 * letters, digits and ".-_:[]"; for a comment, anything visible but "(",
 * ")" and "\\". */
static void clean_word(const char *in, bool comment, char *out, size_t size)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < size; in++) {
		unsigned char c = (unsigned char)*in;
		bool ok = comment ? c > 0x20 && c != 0x7f && strchr("()\\", c) == NULL
				  : (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9') ||
				    strchr(".-_:[]", c) != NULL;

		out[o++] = ok ? (char)c : '?';
	}
	out[o] = '\0';
}

struct builder {
	char *buf;
	size_t size, n;
	size_t line_start;
	bool overflow;
};

static void add(struct builder *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct builder *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->n, b->size - b->n, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->size - b->n) {
		b->overflow = true;
		return;
	}
	b->n += (size_t)n;
}

/* Start a clause on a new folded line when this one would pass 78. */
static void clause(struct builder *b, const char *text)
{
	size_t len = strlen(text);

	if (b->n - b->line_start + 1 + len > 76) {
		add(b, "\r\n\t");
		b->line_start = b->n - 1;
	} else {
		add(b, " ");
	}
	add(b, "%s", text);
}

/* from, by and with of mail over SMTP. */
static void smtp_clauses(struct builder *b, const struct received_info *ri)
{
	char helo[300], login[400], word[600];

	clean_word(ri->helo != NULL && *ri->helo != '\0' ? ri->helo : "unknown",
		   false, helo, sizeof(helo));
	/* TCP-info comes from the connection, never from EHLO (§4.4). */
	snprintf(word, sizeof(word), "from %s (%s%s%s)", helo,
		 strchr(ri->client_ip, ':') != NULL ? "[IPv6:" : "[",
		 ri->client_ip, "]");
	clause(b, word);
	if (ri->auth_user != NULL) {
		clean_word(ri->auth_user, true, login, sizeof(login));
		snprintf(word, sizeof(word), "(authenticated as %s)", login);
		clause(b, word);
	}
	snprintf(word, sizeof(word), "by %s", ri->host);
	clause(b, word);
	if (ri->tls_version != NULL) {
		snprintf(word, sizeof(word), "(using %s with cipher %s)",
			 ri->tls_version,
			 ri->tls_cipher != NULL ? ri->tls_cipher : "unknown");
		clause(b, word);
	}
	snprintf(word, sizeof(word), "with %s",
		 received_protocol(ri->esmtp, ri->tls_version != NULL, ri->auth,
				   ri->utf8));
	clause(b, word);
}

/* from, by and with of mail a local program handed over. */
static void local_clauses(struct builder *b, const struct received_info *ri)
{
	char user[200], word[600];

	clean_word(ri->local_user, true, user, sizeof(user));
	snprintf(word, sizeof(word), "from local user %s (uid %lu)", user,
		 ri->local_uid);
	clause(b, word);
	snprintf(word, sizeof(word), "by %s (kantorpos)", ri->host);
	clause(b, word);
	clause(b, "with local");
}

size_t received_format(const struct received_info *ri, char *buf,
		       size_t size)
{
	struct builder b = { buf, size, 0, 0, false };
	char word[600], date[64];

	if (ri->return_path)
		add(&b, "Return-Path: <%s>\r\n", ri->sender);
	b.line_start = b.n;
	add(&b, "Received:");
	if (ri->local_user != NULL)
		local_clauses(&b, ri);
	else
		smtp_clauses(&b, ri);
	snprintf(word, sizeof(word), "id %s", ri->id);
	clause(&b, word);
	if (ri->for_rcpt != NULL) {
		snprintf(word, sizeof(word), "for <%s>;", ri->for_rcpt);
		clause(&b, word);
	} else {
		add(&b, ";");
	}
	received_date(ri->when, ri->utc_offset, date, sizeof(date));
	clause(&b, date);
	add(&b, "\r\n");
	return b.overflow ? 0 : b.n;
}
