/* outbound/tlspolicy.h: the TLS of one delivery attempt to one MX host —
 * from outbound_tls and what DNS says about the host's TLSA records (RFC
 * 7672) to the SMTP client's mode, the records and names it verifies
 * against, and the mode's name for logs and the queue. Pure: no I/O, no
 * globals (tlsp_target_copy and tlsp_target_free only allocate).
 *
 * The DANE state of a host (tlsp_dane_of, from the TLSA answer):
 *   NONE      no DANE: the MX RRset or the host's addresses were not
 *             secure (no TLSA lookup then: RFC 7672 section 2.2.1, the
 *             names could be forged), the TLSA answer is insecure, or a
 *             secure NODATA/NXDOMAIN (section 2.2)  → opportunistic
 *   USABLE    a secure RRset with a usable record   → dane
 *   UNUSABLE  a secure RRset, no record usable (only usages 0 and 1,
 *             unknown selectors or matching types: section 3.1.3)
 *             → TLS mandatory, not authenticated: dane-unusable
 *   UNKNOWN   bogus, SERVFAIL, timeout → the host is not used: the next
 *             MX, else a deferral; never cleartext (section 2.1.1)
 *
 * outbound_tls none, opportunistic and required apply as they are, with
 * no TLSA lookup.
 *
 * The domain's MTA-STS policy (RFC 8461) comes after DANE: a host whose
 * DANE state is not NONE is decided by DANE alone (RFC 8461 section 2).
 * Otherwise enforce means STARTTLS verified for the MX host name
 * ("mta-sts-enforce", whatever outbound_tls says: the domain asked for
 * it), and testing leaves outbound_tls's choice, named "mta-sts-testing"
 * where that is opportunistic — then the certificate is checked against
 * the MX host name without being enforced (check), so that the outcome
 * can be reported.
 *
 * The decision also names the policy a TLS report would file the
 * attempt under (outbound/tlsrpt.h): tlsa when DANE decides, sts when
 * MTA-STS does, none otherwise. */
#ifndef KANTORPOS_OUTBOUND_TLSPOLICY_H
#define KANTORPOS_OUTBOUND_TLSPOLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/client/smtpclient.h"
#include "common/config/config.h"
#include "common/dns/dns_types.h"
#include "common/net/tls.h"
#include "outbound/tlsrpt.h"

/* Room for a reason (an UNKNOWN host). */
#define TLSP_WHY_MAX 300

enum tlsp_dane {
	TLSP_DANE_NONE = 0,
	TLSP_DANE_USABLE,
	TLSP_DANE_UNUSABLE,
	TLSP_DANE_UNKNOWN,
};

/* What is known of one MX host's TLSA records. */
struct tlsp_host {
	enum tlsp_dane dane;
	char base[DNS_NAME_MAX + 1];  /* the TLSA base domain ("" for NONE) */
	const struct tls_tlsa *rrs;   /* every record of the RRset */
	size_t n_rrs;
	char why[TLSP_WHY_MAX];       /* UNKNOWN: why, for the recipients */
};

/* The MTA-STS policy of the domain that applies (RFC 8461). */
enum tlsp_sts {
	TLSP_STS_NONE = 0,
	TLSP_STS_TESTING,
	TLSP_STS_ENFORCE,
};

struct tlsp_in {
	enum config_outbound_tls mode;
	const struct tlsp_host *host; /* NULL: no TLSA lookup was made */
	const char *mx_name;          /* the MX host name, as in the MX RRset */
	const char *domain;           /* the next-hop (recipient) domain */
	enum tlsp_sts sts;
};

/* The decision; its pointers point into the input. */
struct tlsp_out {
	bool use;                     /* false: skip this host (why) */
	enum smtpc_tls tls;
	const char *mode_name;        /* "dane", "dane-unusable", ... */
	const char *base;             /* DANE: the TLSA base domain */
	const char *names[2];         /* DANE: the MX name, the domain */
	size_t n_names;
	const struct tls_tlsa *rrs;
	size_t n_rrs;
	const char *why;
	bool check;                   /* verify without enforcing */
	enum tlsrpt_policy report;
};

/* The DANE state a TLSA answer gives (its records, when secure). */
enum tlsp_dane tlsp_dane_of(const struct dns_answer *tlsa);

/* Whether to ask for the TLSA records of a host at all: outbound_tls
 * dane, a secure MX answer (a secure denial for the implicit MX) and the
 * host's addresses secure. */
bool tlsp_wants_tlsa(enum config_outbound_tls mode, bool mx_secure,
		     bool addrs_secure);

/* Decide. */
void tlsp_decide(const struct tlsp_in *in, struct tlsp_out *out);

/* A decision kept by a target (the records and names copied), compared
 * to decide whether a session may carry another domain's mail. */
struct tlsp_target {
	enum smtpc_tls tls;
	const char *mode_name;        /* static */
	char *base, *names[2];
	size_t n_names;
	struct tls_tlsa *rrs;
	size_t n_rrs;
	bool check;
	enum tlsrpt_policy report;
};

/* Copy out into t. Returns 0 or -1 (ENOMEM; t is then empty). */
int tlsp_target_copy(struct tlsp_target *t, const struct tlsp_out *out);

/* Whether out decides what t keeps (same mode, base, names, records). */
bool tlsp_target_same(const struct tlsp_target *t,
		      const struct tlsp_out *out);

/* Free what t holds. */
void tlsp_target_free(struct tlsp_target *t);

#endif
