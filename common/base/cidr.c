/* common/base/cidr.c: address range parsing and matching (pure). */
#include "autoconf.h"

#include "common/base/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void clear_host_bits(unsigned char *a, unsigned len, unsigned prefix)
{
	for (unsigned bit = prefix; bit < len * 8; bit++)
		a[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
}

int cidr_parse(const char *s, struct cidr *c_r)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	unsigned max, prefix = 0;

	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(c_r, 0, sizeof(*c_r));
	if (inet_pton(AF_INET, buf, c_r->addr) == 1) {
		c_r->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c_r->addr) == 1) {
		c_r->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	if (slash == NULL) {
		prefix = max;
	} else {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3)
			return -1;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			return -1;
	}
	c_r->prefix = prefix;
	clear_host_bits(c_r->addr, max / 8, prefix);
	return 0;
}

bool cidr_match(const struct cidr *c, const char *addr)
{
	unsigned char a[16];
	unsigned len;
	int family;

	if (inet_pton(AF_INET, addr, a) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		family = AF_INET6;
		/* ::ffff:a.b.c.d is an IPv4 peer on a dual-stack socket. */
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0,
							  0, 0, 0, 0, 0xff, 0xff };
		if (c->family == AF_INET && memcmp(a, mapped, 12) == 0) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	} else {
		return false;
	}
	if (family != c->family)
		return false;
	len = family == AF_INET ? 4 : 16;
	clear_host_bits(a, len, c->prefix);
	return memcmp(a, c->addr, len) == 0;
}
