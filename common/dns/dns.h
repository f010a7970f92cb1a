/* common/dns/dns.h: the one DNS resolver of kantorpos — asynchronous,
 * validating, on the daemon's (or a tool's) libev loop.
 *
 * Built on libunbound, which runs on the caller's loop itself: its sockets
 * and timers are libev watchers (common/dns/dns_event.h), and it starts
 * no thread: nothing ever waits for a query. libunbound validates DNSSEC
 * itself against the trust anchors of dns_trust_anchor
 * (never trusting an upstream AD bit); its own message cache, kept small,
 * answers repeated questions within their TTLs. The records of an answer
 * are read from the answer packet by kantorpos's own parser
 * (common/dns/dns_parse.h), which is pure and fuzzed.
 *
 * Servers: dns_resolver's list (forwarding; names under test. and example.
 * then reach them too, as labs and tests need), else /etc/resolv.conf's.
 *
 * Loop thread only; callbacks run from the loop, never inside a dns_*
 * call. */
#ifndef KANTORPOS_COMMON_DNS_H
#define KANTORPOS_COMMON_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct dns;
struct dns_query;

/* The record types kantorpos asks for. */
enum dns_type {
	DNS_T_A = 1,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
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
};

struct dns_opts {
	/* "ADDR" or "ADDR@PORT" (IPv6 literal without brackets); NULL or
	 * empty: /etc/resolv.conf. */
	const char *const *servers;
	size_t n_servers;
	const char *trust_anchor;     /* zone-file DS/DNSKEY lines; NULL:
				       * no validation (everything INSECURE) */
	unsigned timeout;             /* seconds a query may take; 0: 10 */
};

/* Start a resolver on loop. Returns it, or NULL with a message in err
 * (a trust anchor that cannot be read or parsed, a bad server). */
struct dns *dns_new(struct ev_loop *loop, const struct dns_opts *opts,
		    char *err, size_t errlen);

/* Whether path is a trust anchor file dns_new would take: readable, with
 * DS or DNSKEY records that libunbound parses. Reads the file (blocking:
 * for start-up and kantorpos check). Returns 0, or -1 with the reason in
 * err. */
int dns_check_anchor(const char *path, char *err, size_t errlen);

/* Stop it: pending queries are dropped (their callbacks never run). May be
 * called from a callback. */
void dns_free(struct dns *d);

/* Called once with the answer (valid during the call only). */
typedef void dns_cb(void *arg, const struct dns_answer *a);

/* Ask for name's records of type (name: a host name, or for PTR an
 * address literal). Returns the query (for dns_cancel until its callback
 * ran), or NULL with errno (EINVAL: not a domain name, or for PTR not an
 * address literal; ENOMEM; EIO: libunbound refused the query). */
struct dns_query *dns_lookup(struct dns *d, const char *name,
			     enum dns_type type, dns_cb *cb, void *arg);

/* Forget a query whose callback has not run; it never will. */
void dns_cancel(struct dns_query *q);

/* "OK", "NODATA", ... for logs. */
const char *dns_status_str(enum dns_status s);

/* "MX", "A", ... for logs; "?" for another number. */
const char *dns_type_str(enum dns_type t);

#endif
