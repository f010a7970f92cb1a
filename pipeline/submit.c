/* pipeline/submit.c: the streamed header-section scan of submitted mail and
 * the Date and Message-ID fields added to it. */
#include "autoconf.h"

#include "pipeline/submit.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pipeline/received.h"

enum field { F_OTHER = 0, F_FROM, F_DATE, F_MSGID };

void submit_init(struct submit_scan *h)
{
	memset(h, 0, sizeof(*h));
	h->line_start = true;
}

static void from_add(struct submit_scan *h, char c)
{
	if (h->from_len < sizeof(h->from))
		h->from[h->from_len++] = c;
	else
		h->from_long = true;
}

/* The ':' after a field name: which field it is (RFC 5322 §3.6; the
 * obsolete blanks before the colon are allowed). */
static void name_done(struct submit_scan *h)
{
	unsigned n = h->name_len;

	h->in_name = false;
	h->field = F_OTHER;
	if (n > sizeof(h->name))
		return; /* too long for any name we look for */
	while (n > 0 && (h->name[n - 1] == ' ' || h->name[n - 1] == '\t'))
		n--;
	if (n == 4 && strncasecmp(h->name, "from", 4) == 0) {
		h->field = F_FROM;
		if (h->n_from++ > 0)
			from_add(h, ',');
	} else if (n == 4 && strncasecmp(h->name, "date", 4) == 0) {
		h->has_date = true;
	} else if (n == 10 && strncasecmp(h->name, "message-id", 10) == 0) {
		h->has_msgid = true;
	}
}

/* One octet of a line after its first. */
static void line_octet(struct submit_scan *h, char c)
{
	if (c == '\n') {
		h->line_start = true;
		h->in_name = false;
		return;
	}
	if (c == '\r')
		return;
	if (h->in_name) {
		if (c == ':')
			name_done(h);
		else if (h->name_len < sizeof(h->name))
			h->name[h->name_len++] = c;
		else
			h->name_len = sizeof(h->name) + 1; /* too long: other */
		return;
	}
	if (h->field == F_FROM)
		from_add(h, c);
}

bool submit_feed(struct submit_scan *h, const char *buf, size_t len,
		 size_t *end_r)
{
	for (size_t i = 0; i < len && !h->done; i++) {
		char c = buf[i];

		if (h->line_start) {
			h->line_start = false;
			if (c == '\r' || c == '\n') {
				h->done = true;
				*end_r = i;
				return true;
			}
			/* A new field, unless the line continues the last. */
			if (c != ' ' && c != '\t') {
				h->field = F_OTHER;
				h->in_name = true;
				h->name_len = 0;
			}
		}
		line_octet(h, c);
	}
	return false;
}

bool submit_finish(struct submit_scan *h)
{
	bool open = !h->done && h->line_start;

	h->done = true;
	return open;
}

size_t submit_fields(const struct submit_scan *h, const char *id,
		     const char *host, time_t when, long utc_offset,
		     char *buf, size_t size)
{
	char date[64], stamp[32];
	struct tm tm;
	size_t n = 0;
	int w;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	if (!h->has_date) {
		if (received_date(when, utc_offset, date, sizeof(date)) == 0)
			return 0;
		w = snprintf(buf, size, "Date: %s\r\n", date);
		if (w < 0 || (size_t)w >= size)
			return 0;
		n = (size_t)w;
	}
	if (!h->has_msgid) {
		gmtime_r(&when, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
		w = snprintf(buf + n, size - n, "Message-ID: <%s.%s@%s>\r\n",
			     stamp, id, host);
		if (w < 0 || (size_t)w >= size - n)
			return 0;
		n += (size_t)w;
	}
	return n;
}
