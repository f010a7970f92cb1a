/* common/mail/dsn.c: the NOTIFY value of RFC 3461 §4.1, parsed and
 * formatted. */
#include "autoconf.h"

#include "common/mail/dsn.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	unsigned bit;
} notify_names[] = {
	{ "NEVER", DSN_NOTIFY_NEVER },
	{ "SUCCESS", DSN_NOTIFY_SUCCESS },
	{ "FAILURE", DSN_NOTIFY_FAILURE },
	{ "DELAY", DSN_NOTIFY_DELAY },
};

#define N_NOTIFY (sizeof(notify_names) / sizeof(notify_names[0]))

/* The bit of the value s[0..n), 0 when it is none. */
static unsigned notify_bit(const char *s, size_t n, bool icase)
{
	for (size_t k = 0; k < N_NOTIFY; k++)
		if (strlen(notify_names[k].name) == n &&
		    (icase ? strncasecmp(s, notify_names[k].name, n)
			   : strncmp(s, notify_names[k].name, n)) == 0)
			return notify_names[k].bit;
	return 0;
}

int dsn_notify_parse(const char *s, size_t len, bool icase, unsigned *bits_r,
		     bool *combined_r)
{
	unsigned bits = 0;

	if (combined_r != NULL)
		*combined_r = false;
	for (;;) {
		const char *comma = memchr(s, ',', len);
		size_t n = comma != NULL ? (size_t)(comma - s) : len;
		unsigned bit = notify_bit(s, n, icase);

		if (bit == 0 || (bits & bit))
			return -1;
		bits |= bit;
		if (comma == NULL)
			break;
		len -= n + 1;
		s = comma + 1;
	}
	if ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER) {
		if (combined_r != NULL)
			*combined_r = true;
		return -1;
	}
	*bits_r = bits;
	return 0;
}

const char *dsn_notify_format(unsigned bits, char *buf, size_t size)
{
	size_t o = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (size_t k = 0; k < N_NOTIFY && o < size; k++)
		if (bits & notify_names[k].bit)
			o += (size_t)snprintf(buf + o, size - o, "%s%s",
					      o ? "," : "", notify_names[k].name);
	return buf;
}
