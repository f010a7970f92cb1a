/* common/config/config_value.h: the value syntax of kantorpos.conf as small pure
 * functions (no I/O, no globals), shared by the config parser and by any
 * program that takes the same kinds of values on its command line.
 * Return convention: 0 success, -1 malformed; predicates return bool. */
#ifndef KANTORPOS_COMMON_CONFIG_VALUE_H
#define KANTORPOS_COMMON_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config/config.h"

/* Leading decimal digits of s (no sign, no blanks). On success *end_r points
 * past them; -1 when there are none or the value overflows. */
int config_parse_number(const char *s, unsigned long long *v_r,
			const char **end_r);

/* A whole word "123", "64K", "50M" or "2G" (suffix in either case,
 * multiples of 1024) as bytes; -1 when malformed or overflowing. */
int config_parse_size(const char *s, uint64_t *v_r);

/* A whole word "30", "30s", "5m", "2h" or "1d" as seconds; -1 when malformed
 * or overflowing. */
int config_parse_duration(const char *s, unsigned long long *v_r);

/* The shortest exact spelling for messages: 4194304 gives "4M", 900 gives
 * "15m"; truncated to len bytes like snprintf. */
void config_format_size(char *buf, size_t len, unsigned long long v);
void config_format_duration(char *buf, size_t len, unsigned long long v);

/* An RFC 1035 host name: dot-separated labels of letters, digits and inner
 * hyphens, 63 octets a label and 253 in all, no trailing dot. */
bool config_is_domain(const char *s);

/* An RFC 5322 dot-atom local part of at most 64 octets, without '/' (it
 * names a Maildir directory), so never "." or "..". */
bool config_is_localpart(const char *s);

/* A portable POSIX user name: letters, digits, '.', '_', '-', not starting
 * with '-', at most 32 characters. */
bool config_is_username(const char *s);

/* Split "ADDRESS[:PORT]" in place: ADDRESS is "*" (CONFIG_ADDR_ANY), an
 * IPv4 literal, "[IPv6 literal]" (*host_r without brackets) or a host name.
 * *port_r is NULL when there is no ":PORT"; it is not checked here. */
int config_split_hostport(char *s, enum config_addr *addr_r, char **host_r,
			  char **port_r);

/* A decimal port 1-65535 (s may be NULL, which is an error). */
int config_parse_port(const char *s, unsigned *port_r);

#endif
