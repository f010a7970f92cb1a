/* admin/dnsrec.h: the DNS records a local domain needs, for `kantorpos dns`
 * (admin/dns.c prints them, admin/dns_check.c looks them up): the records
 * built from the configuration, each as a zone-file line with the comment
 * that says what it is for, and the comparison of a DNS answer with one of
 * them. Pure: no I/O, no globals; the caller reads the certificate and the
 * DKIM keys and gives the time.
 *
 * The comparison rule of --check:
 * - records with one right value compare the value: MX (an MX record of
 *   the domain names HOSTNAME; its preference is free), A/AAAA (the
 *   listener's address is among HOSTNAME's), SRV (a record with target
 *   HOSTNAME and the listener's port; priority and weight are free), TLSA
 *   (3 1 1 with the certificate's digest among the records), PTR (the
 *   names of the address include HOSTNAME), DKIM (the p= key of a record
 *   at the selector is the key's);
 * - policy records a user may tighten (SPF, DMARC, TLS-RPT, MTA-STS) are
 *   right when exactly one record of their kind is there (its v= tag
 *   first: v=spf1, v=DMARC1, v=TLSRPTv1, v=STSv1) and well formed: DMARC
 *   with p=none|quarantine|reject, TLS-RPT with a rua= of mailto: or
 *   https:, MTA-STS with an id of 1 to 32 letters and digits (any id);
 * - HOSTNAME's address when no listener names a concrete one: any A or
 *   AAAA record. */
#ifndef KANTORPOS_ADMIN_DNSREC_H
#define KANTORPOS_ADMIN_DNSREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/dns/dns_types.h"

struct config;

enum dnsrec_kind {
	DNSREC_MX,
	DNSREC_ADDR,      /* an A or AAAA of HOSTNAME, from a listener */
	DNSREC_ADDR_ANY,  /* HOSTNAME has some address (none known here) */
	DNSREC_SPF,
	DNSREC_DKIM,
	DNSREC_DMARC,
	DNSREC_MTASTS,
	DNSREC_TLSRPT,
	DNSREC_SRV,
	DNSREC_PTR,
	DNSREC_TLSA,
	DNSREC_NOTE,      /* a comment only: nothing to publish or check */
};

#define DNSREC_VALUE_MAX 2048
#define DNSREC_COMMENT_MAX 1024
#define DNSREC_MAX 48

struct dnsrec {
	enum dnsrec_kind kind;
	enum dns_type type;           /* what --check asks for */
	char owner[DNS_NAME_MAX + 1]; /* without the final dot */
	char value[DNSREC_VALUE_MAX]; /* the RDATA as a zone file writes it;
				       * "" for DNSREC_ADDR_ANY and notes */
	char text[DNSREC_VALUE_MAX];  /* TXT: the record's strings joined;
				       * PTR: the address asked about */
	char comment[DNSREC_COMMENT_MAX]; /* "; " lines, each ending '\n' */
	char target[DNS_NAME_MAX + 1];    /* MX, SRV, PTR: HOSTNAME */
	unsigned port;                    /* SRV */
	uint8_t addr[16];                 /* ADDR: the address */
	bool commented;   /* printed as a comment (PTR: the address owner's
			   * zone); --check makes its own PTR rows */
};

/* One DKIM key of the domain: its selector and the TXT of its record
 * ("v=DKIM1; k=...; p=..."). */
struct dnsrec_dkim {
	const char *selector;
	const char *txt;
};

struct dnsrec_env {
	const struct config *cfg;
	const char *domain;           /* a local_domain of cfg, lower case */
	const uint8_t *spki_sha256;   /* SHA-256 of tls_cert's public key
				       * (32 octets); NULL: no tls_cert */
	const struct dnsrec_dkim *dkim; /* the domain's dkim_sign keys */
	size_t n_dkim;
	time_t now;                   /* for the MTA-STS id */
};

struct dnsrec_set {
	size_t n;
	struct dnsrec r[DNSREC_MAX];
};

/* Fill *set with every record env->domain needs, in the order they are
 * printed. Returns 0, or -1 when a name would be too long (with *why_r). */
int dnsrec_build(const struct dnsrec_env *env, struct dnsrec_set *set,
		 const char **why_r);

/* The concrete addresses HOSTNAME should have: those of cfg's listeners
 * that name an address other than a loopback, unspecified or link-local
 * one, without repeats, at most max, as text into out[i]
 * (INET6_ADDRSTRLEN octets each). Returns how many. */
size_t dnsrec_listen_addrs(const struct config *cfg, char (*out)[46],
			   size_t max);

/* The SPF include: for a relayhost named host: host without its first
 * label when it has three labels or more, host itself with two, nothing
 * (0) with one or an address literal. Into out (DNS_NAME_MAX + 1).
 * Returns 1 when there is one. */
int dnsrec_spf_include(const char *host, char *out);

/* The PTR row of --check for address literal addr of hostname into *r.
 * Returns 0, or -1 when addr is no address literal. */
int dnsrec_ptr(const char *addr, const char *hostname, struct dnsrec *r);

/* The record as zone-file text: its comment lines, then
 * "OWNER. IN TYPE VALUE\n" (itself after "; " when commented; nothing for
 * DNSREC_ADDR_ANY and notes), into out (always NUL-terminated). */
void dnsrec_format(const struct dnsrec *r, char *out, size_t outlen);

/* "MX", "SPF", "MTA-STS", ...: the name of r's row in --check. */
const char *dnsrec_label(const struct dnsrec *r);

enum dnsrec_verdict {
	DNSREC_OK,
	DNSREC_MISSING,
	DNSREC_DIFFERS,
	DNSREC_FAILED,    /* no answer (TEMPFAIL): the check is incomplete */
};

/* Compare the answer a to the question r->type about r->owner with r.
 * DNSREC_DIFFERS and DNSREC_FAILED put what was found into got ("got 10
 * other.example.", "2 v=spf1 records: ...", the resolver's reason). A
 * DNSSEC failure (BOGUS) differs: the zone's signatures are broken. */
enum dnsrec_verdict dnsrec_compare(const struct dnsrec *r,
				   const struct dns_answer *a, char *got,
				   size_t gotlen);

/* "ok", "missing", "differs", "DNS failure". */
const char *dnsrec_verdict_str(enum dnsrec_verdict v);

#endif
