/* common/dns/dns_types.h: what a DNS answer is, for the resolver
 * (common/dns/dns.h, which includes this) and the parser under it
 * (common/dns/dns_parse.h): the record types, statuses, caps and the
 * answer with its records. */
#ifndef KANTORPOS_COMMON_DNS_TYPES_H
#define KANTORPOS_COMMON_DNS_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The record types kantorpos asks for. */
enum dns_type {
	DNS_T_A = 1,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_TLSA = 52,
};

/* What came back. */
enum dns_status {
	DNS_OK = 0,     /* at least one record of the type */
	DNS_NODATA,     /* the name exists, no record of the type */
	DNS_NXDOMAIN,   /* the name does not exist */
	DNS_TEMPFAIL,   /* SERVFAIL, timeout, no server answered, malformed
			 * or truncated answer: ask again later */
	DNS_BOGUS,      /* DNSSEC validation failed (an attack, or a broken
			 * zone): never use the data */
};

/* Security of an answer (RFC 4035 §4.3). */
enum dns_security {
	DNS_INSECURE = 0, /* no chain of trust covers the name */
	DNS_SECURE,       /* validated */
};

/* Caps: records beyond them are dropped (and the answer says so). */
#define DNS_MAX_RECORDS 100
#define DNS_NAME_MAX 255     /* presentation form, without the final dot */
#define DNS_TXT_MAX 4096     /* one TXT record's strings joined */

struct dns_mx {
	uint16_t pref;
	char host[DNS_NAME_MAX + 1]; /* "" for the null MX (RFC 7505) */
};

struct dns_addr {
	int family;                  /* AF_INET or AF_INET6 */
	uint8_t addr[16];            /* network order */
};

struct dns_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	const uint8_t *data;          /* owned by the answer */
};

struct dns_srv {                  /* RFC 2782 */
	uint16_t prio, weight, port;
	char target[DNS_NAME_MAX + 1]; /* "" for "." (no such service) */
};

struct dns_answer {
	enum dns_status status;
	enum dns_security security;
	enum dns_type type;
	char qname[DNS_NAME_MAX + 1];
	char canon[DNS_NAME_MAX + 1]; /* after CNAMEs (RFC 5321 §5.1) */
	uint32_t ttl;                 /* smallest TTL of the records */
	bool capped;                  /* more than DNS_MAX_RECORDS came */
	const char *why;              /* DNS_TEMPFAIL/BOGUS: for the log */
	size_t n;                     /* records in the array of type: */
	struct dns_mx *mx;            /* sorted by preference */
	struct dns_addr *addr;        /* A or AAAA */
	struct dns_tlsa *tlsa;
	char **txt;                   /* TXT: each record's strings joined */
	char **ptr;                   /* PTR: names */
	struct dns_srv *srv;          /* SRV, in message order */
};

/* "OK", "NODATA", ... for logs. */
const char *dns_status_str(enum dns_status s);

/* "MX", "A", "SRV", ... for logs; "?" for another number. */
const char *dns_type_str(enum dns_type t);

/* Record i of a as a zone file writes its RDATA into out (always
 * NUL-terminated, cut to outlen): MX "10 a.remote.test." (null MX "0 ."),
 * A and AAAA addresses, TLSA "3 1 1 0a1b..." ("-" for empty data), TXT
 * "\"v=spf1 -all\"" (one string; '"', '\' and octets outside ' '..'~'
 * escaped), PTR names with their final dot, SRV "0 1 587 mail.test." ("."
 * for the target "."). */
void dns_record_format(const struct dns_answer *a, size_t i, char *out,
		       size_t outlen);

/* Whether an MX answer is the null MX of RFC 7505: records, and every one
 * with the exchange "." (a "." among real MX records is not: those can
 * still be tried). */
bool dns_is_null_mx(const struct dns_answer *a);

#endif
