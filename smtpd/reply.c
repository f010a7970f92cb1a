/* smtpd/reply.c: SMTP reply line formatting. */
#include "autoconf.h"

#include "smtpd/reply.h"

#include <stdio.h>
#include <string.h>

size_t reply_vformat(char *buf, size_t size, int code, const char *enh,
		     int more, const char *fmt, va_list ap)
{
	size_t cap = size < REPLY_LINE_MAX ? size : REPLY_LINE_MAX;
	size_t n;
	int head;

	if (cap < 16 || code < 200 || code > 599)
		return 0;
	head = snprintf(buf, cap - 2, "%d%c%s%s", code, more ? '-' : ' ',
			enh != NULL ? enh : "", enh != NULL ? " " : "");
	if (head < 0 || (size_t)head >= cap - 2)
		return 0;
	n = (size_t)head;
	if (fmt != NULL && *fmt != '\0') {
		int t = vsnprintf(buf + n, cap - 2 - n, fmt, ap);

		if (t > 0)
			n += (size_t)t < cap - 3 - n ? (size_t)t : cap - 3 - n;
	}
	/* A formatted argument (an address, an EHLO name) must never split
	 * the reply into two lines. */
	for (size_t i = (size_t)head; i < n; i++)
		if (buf[i] == '\r' || buf[i] == '\n' || buf[i] == '\0')
			buf[i] = ' ';
	buf[n++] = '\r';
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

size_t reply_format(char *buf, size_t size, int code, const char *enh,
		    int more, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = reply_vformat(buf, size, code, enh, more, fmt, ap);
	va_end(ap);
	return n;
}

static int digits(const char **p, int max)
{
	int n = 0;

	while (**p >= '0' && **p <= '9') {
		(*p)++;
		n++;
	}
	return n >= 1 && n <= max;
}

int reply_enh_ok(int code, const char *enh)
{
	const char *p = enh;

	if (enh == NULL || code < 200 || code > 599)
		return 0;
	if (p[0] != '0' + code / 100 || (p[0] != '2' && p[0] != '4' &&
					 p[0] != '5') || p[1] != '.')
		return 0;
	p += 2;
	if (!digits(&p, 3) || *p++ != '.')
		return 0;
	return digits(&p, 3) && *p == '\0';
}
