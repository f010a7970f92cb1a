/* common/dns/dns_name.c: domain names read from DNS messages, checked for
 * lookups, and built for reverse lookups (see dns_name.h). */
#include "autoconf.h"

#include "common/dns/dns_name.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(const char **why_r, const char *why)
{
	*why_r = why;
	return -1;
}

/* Append one label in presentation form; -1 when out would overflow. */
static int put_label(char *out, size_t *o, const uint8_t *p, size_t n)
{
	char esc[5];

	if (*o > 0) {
		if (*o >= DNS_NAME_MAX)
			return -1;
		out[(*o)++] = '.';
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = 1;

		if (p[i] == '.' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			k = 2;
		} else if (p[i] < '!' || p[i] > '~') {
			snprintf(esc, sizeof(esc), "\\%03u", p[i]);
			k = 4;
		} else {
			esc[0] = (char)p[i];
		}
		if (*o + k > DNS_NAME_MAX)
			return -1;
		memcpy(out + *o, esc, k);
		*o += k;
	}
	return 0;
}

int dns_name_read(const uint8_t *msg, size_t len, size_t *off, size_t limit,
		  char *out, const char **why_r)
{
	size_t pos = *off, run = *off, end = 0, wire = 1, o = 0;
	bool jumped = false;

	if (limit > len)
		limit = len;
	for (;;) {
		size_t bound = jumped ? len : limit;
		uint8_t c;

		if (pos >= bound)
			return fail(why_r, "name runs past the end");
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= bound)
				return fail(why_r, "compression pointer past the end");
			to = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (to >= len)
				return fail(why_r, "compression pointer past the end of the message");
			if (to >= run)
				return fail(why_r, "compression pointer does not point back");
			if (!jumped)
				end = pos + 2;
			jumped = true;
			pos = run = to;
			continue;
		}
		if (c & 0xc0)
			return fail(why_r, "label over 63 octets or of an unknown type");
		if (c == 0)
			break;
		wire += (size_t)c + 1;
		if (wire > DNS_WIRE_NAME_MAX)
			return fail(why_r, "name over 255 octets");
		if (pos + 1 + c > bound)
			return fail(why_r, "label runs past the end");
		if (put_label(out, &o, msg + pos + 1, c) < 0)
			return fail(why_r, "name too long to print");
		pos += 1 + (size_t)c;
	}
	out[o] = '\0';
	*off = jumped ? end : pos + 1;
	return 0;
}

bool dns_name_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool dns_name_ok(const char *name)
{
	size_t n = strlen(name), label = 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (!name_char(name[i]) || ++label > 63) {
			return false;
		}
	}
	return label > 0;
}

int dns_name_reverse(const char *addr, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t a[16];
	size_t o = 0;

	if (inet_pton(AF_INET, addr, a) == 1) {
		snprintf(out, DNS_NAME_MAX + 1, "%u.%u.%u.%u.in-addr.arpa",
			 a[3], a[2], a[1], a[0]);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, a) != 1)
		return -1;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 0x0f];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
	return 0;
}
