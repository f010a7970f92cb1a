/* common/dns/dns_name.h: domain names, pure: reading a name from a DNS
 * message (RFC 1035 §3.1, §4.1.4 compression) into its presentation form,
 * the names a lookup may ask for, and the reverse-lookup name of an address
 * literal (RFC 1035 §3.5, RFC 3596 §2.5). No I/O, no globals. */
#ifndef KANTORPOS_COMMON_DNS_NAME_H
#define KANTORPOS_COMMON_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dns/dns_types.h"

/* Longest name on the wire, length octets and the root label included
 * (RFC 1035 §3.1). */
#define DNS_WIRE_NAME_MAX 255

/* Read the name at *off of the message msg (len octets) into out
 * (DNS_NAME_MAX + 1 octets): labels joined by '.', without the final dot
 * ("" for the root); '.' and '\' inside a label are written "\." and "\\",
 * octets outside '!'..'~' as "\DDD".
 *
 * A compression pointer must point before the start of the run of octets
 * it ends (RFC 1035 §4.1.4: "a prior occurrence"), so every jump lands
 * earlier than the one before: no loops. The octets of the name at *off
 * itself (up to its end or its first pointer) must lie below limit
 * (<= len): a name inside RDATA stays inside it.
 *
 * Returns 0 with *off just past those octets, or -1 with a static reason
 * in *why_r (a label over 63 octets or of an unknown type, a name over
 * 255 octets, a pointer that does not point back, a name past limit or
 * past the end, a presentation form over DNS_NAME_MAX). */
int dns_name_read(const uint8_t *msg, size_t len, size_t *off, size_t limit,
		  char *out, const char **why_r);

/* Whether two names in presentation form are the same name (ASCII letters
 * compare without case, RFC 4343). */
bool dns_name_eq(const char *a, const char *b);

/* Whether name may be looked up: labels of letters, digits, '-' and '_'
 * (service labels, DKIM selectors, blocklist queries), 1..63 octets each,
 * at most 253 in all, one final dot allowed. */
bool dns_name_ok(const char *name);

/* The name a PTR lookup of the address literal addr asks for:
 * "1.2.0.192.in-addr.arpa" or the 32 nibbles of an IPv6 address under
 * "ip6.arpa", into out (DNS_NAME_MAX + 1 octets). Returns 0, or -1 when
 * addr is not an IPv4 or IPv6 literal. */
int dns_name_reverse(const char *addr, char *out);

#endif
