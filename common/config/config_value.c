/* common/config/config_value.c: the pure value syntax of kantorpos.conf: numbers,
 * sizes, durations, host and domain names, local parts, ADDRESS:PORT. */
#include "autoconf.h"

#include "common/config/config_value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define KB 1024ULL
#define MB (1024ULL * KB)
#define GB (1024ULL * MB)

/* Decimal digits only (no sign, no spaces); 0 with *end_r past the digits,
 * -1 when there are none or the value overflows. */
int config_parse_number(const char *s, unsigned long long *v_r,
			const char **end_r)
{
	unsigned long long v = 0;
	const char *q = s;

	while (*q >= '0' && *q <= '9') {
		unsigned d = (unsigned)(*q - '0');

		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		q++;
	}
	if (q == s)
		return -1;
	*v_r = v;
	*end_r = q;
	return 0;
}

/* "123", "64K", "50M", "2G" (either case): bytes. */
int config_parse_size(const char *s, uint64_t *v_r)
{
	unsigned long long v, mult = 1;
	const char *end;

	if (config_parse_number(s, &v, &end) < 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mult = KB; break;
	case 'm': case 'M': mult = MB; break;
	case 'g': case 'G': mult = GB; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*v_r = v * mult;
	return 0;
}

/* "30", "30s", "5m", "2h", "1d": seconds. */
int config_parse_duration(const char *s, unsigned long long *v_r)
{
	unsigned long long v, mult = 1;
	const char *end;

	if (config_parse_number(s, &v, &end) < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > ULLONG_MAX / mult)
		return -1;
	*v_r = v * mult;
	return 0;
}

/* The shortest exact spelling, for messages: 4194304 -> "4M". */
void config_format_size(char *buf, size_t len, unsigned long long v)
{
	if (v != 0 && v % GB == 0)
		snprintf(buf, len, "%lluG", v / GB);
	else if (v != 0 && v % MB == 0)
		snprintf(buf, len, "%lluM", v / MB);
	else if (v != 0 && v % KB == 0)
		snprintf(buf, len, "%lluK", v / KB);
	else
		snprintf(buf, len, "%llu", v);
}

void config_format_duration(char *buf, size_t len, unsigned long long v)
{
	if (v != 0 && v % 86400 == 0)
		snprintf(buf, len, "%llud", v / 86400);
	else if (v != 0 && v % 3600 == 0)
		snprintf(buf, len, "%lluh", v / 3600);
	else if (v != 0 && v % 60 == 0)
		snprintf(buf, len, "%llum", v / 60);
	else
		snprintf(buf, len, "%llus", v);
}

/* RFC 1035 2.3.1 host names: dot-separated labels of letters, digits and
 * inner hyphens, at most 63 octets each and 253 in all. */
bool config_is_domain(const char *s)
{
	size_t total = strlen(s), label = 0;
	const char *q;

	if (total == 0 || total > 253)
		return false;
	for (q = s; *q != '\0'; q++) {
		if (*q == '.') {
			if (label == 0 || q[-1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*q) || *q == '-') {
			if (*q == '-' && label == 0)
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && q[-1] != '-';
}

/* RFC 5322 dot-atom text, minus '/' because a local part names a Maildir
 * directory: no leading, trailing or doubled dots. */
bool config_is_localpart(const char *s)
{
	const char *q;

	if (*s == '\0' || *s == '.' || strlen(s) > 64)
		return false;
	for (q = s; *q != '\0'; q++) {
		if (*q == '.' ? q[1] == '.' || q[1] == '\0'
			      : !isalnum((unsigned char)*q) &&
					strchr("!#$%&'*+-=?^_`{|}~", *q) == NULL)
			return false;
	}
	return true;
}

/* POSIX portable user names: letters, digits, '.', '_', '-', no leading '-'. */
bool config_is_username(const char *value)
{
	const char *q;

	if (*value == '\0' || *value == '-' || strlen(value) > 32)
		return false;
	for (q = value; *q != '\0'; q++)
		if (!isalnum((unsigned char)*q) && strchr("._-", *q) == NULL)
			return false;
	return true;
}

/* Split "ADDRESS:PORT" in place. ADDRESS is "*", "[IPv6]", an IPv4 literal
 * or a host name; *port_r is NULL when there is no ":PORT". 0 or -1. */
int config_split_hostport(char *s, enum config_addr *addr_r, char **host_r,
			  char **port_r)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char *colon;

	*port_r = NULL;
	if (*s == '[') {
		char *close = strchr(s, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		if (close[1] == ':')
			*port_r = close + 2;
		*close = '\0';
		if (inet_pton(AF_INET6, s + 1, bin) != 1)
			return -1;
		*addr_r = CONFIG_ADDR_IPV6;
		*host_r = s + 1;
		return 0;
	}
	colon = strchr(s, ':');
	if (colon != NULL) {
		*colon = '\0';
		*port_r = colon + 1;
	}
	*host_r = s;
	if (strcmp(s, "*") == 0)
		*addr_r = CONFIG_ADDR_ANY;
	else if (inet_pton(AF_INET, s, bin) == 1)
		*addr_r = CONFIG_ADDR_IPV4;
	else if (strspn(s, "0123456789.") == strlen(s))
		return -1; /* looks numeric but is no IPv4 address */
	else if (config_is_domain(s))
		*addr_r = CONFIG_ADDR_NAME;
	else
		return -1;
	return 0;
}

/* A port 1-65535 in decimal; 0 or -1. */
int config_parse_port(const char *s, unsigned *port_r)
{
	unsigned long long v;
	const char *end;

	if (s == NULL || config_parse_number(s, &v, &end) < 0 || *end != '\0' ||
	    v < 1 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}
