/* common/base/cidr.h: client address ranges ("192.0.2.0/24", "2001:db8::/32",
 * or a single address) and matching a peer's numeric address against
 * them. Pure: no I/O, no globals. */
#ifndef KANTORPOS_COMMON_CIDR_H
#define KANTORPOS_COMMON_CIDR_H

#include <stdbool.h>

struct cidr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];  /* network byte order, host bits cleared */
	unsigned prefix;         /* 0-32 or 0-128 */
};

/* Parse "ADDRESS[/PREFIX]" (a bare address is /32 or /128). Bits below
 * the prefix are cleared. Returns 0, or -1 on any other form. */
int cidr_parse(const char *s, struct cidr *c_r);

/* Is the numeric address addr ("192.0.2.7", "::1", "::ffff:192.0.2.7")
 * inside c? An IPv4-mapped IPv6 address matches IPv4 ranges. False when
 * addr is not a numeric address. */
bool cidr_match(const struct cidr *c, const char *addr);

#endif
