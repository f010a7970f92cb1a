/* common/auth/dmarc_verdict.h: the DMARC result of a message (RFC 7489
 * §3.1, §6.6.2, §6.6.4) from its policy discovery and the SPF and DKIM
 * results of its identifiers.
 *
 * An identifier aligns with the author domain in relaxed mode when both
 * have the same Organizational Domain, in strict mode when they are the
 * same name (adkim= for DKIM's d=, aspf= for SPF's domain: MAIL FROM's,
 * or HELO's for a null sender). pass: at least one aligned identifier
 * passed. Otherwise, when an aligned identifier's check ended in a
 * temporary error, temperror (another try may pass; kantorpos never
 * rejects on it); else fail, with the policy to apply: p=, or sp= when
 * the record came from the Organizational Domain for a subdomain author;
 * pct= then picks that share of failing messages through a random number
 * the caller draws, and the others get the next weaker policy (reject ->
 * quarantine -> none).
 *
 * Pure code: no I/O, no globals. */
#ifndef KANTORPOS_COMMON_DMARC_VERDICT_H
#define KANTORPOS_COMMON_DMARC_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/auth/dmarc_discover.h"
#include "common/auth/orgdomain.h"

/* The results of Authentication-Results' dmarc method (RFC 7489 §11.2). */
enum dmarc_result {
	DMARC_NONE,
	DMARC_PASS,
	DMARC_FAIL,
	DMARC_TEMPERROR,
	DMARC_PERMERROR,
};

/* An identifier's own check, as DMARC needs it. */
enum dmarc_id_result {
	DMARC_ID_PASS,
	DMARC_ID_FAIL,       /* any final result but pass */
	DMARC_ID_TEMPERROR,
};

struct dmarc_id {
	const char *domain;  /* SPF: the checked domain; DKIM: d= */
	enum dmarc_id_result result;
};

struct dmarc_ids {
	const struct dmarc_id *spf;   /* the SPF identity, NULL: not checked */
	const struct dmarc_id *dkim;  /* one per signature checked */
	size_t n_dkim;
};

struct dmarc_verdict {
	enum dmarc_result result;
	bool spf_aligned;            /* SPF passed for an aligned domain */
	bool dkim_aligned;           /* a signature passed with aligned d= */
	enum dmarc_policy policy;    /* what the record asks for this author
				      * domain (p= or sp=); none without one */
	enum dmarc_policy applied;   /* what to do: none unless fail; else
				      * policy, or weaker when sampled out */
	bool sampled_out;            /* pct= left this message out */
	const char *why;             /* static, for the log and A-R */
};

/* The verdict of the finished discovery d for the identifiers ids.
 * rand100 is a random number 0..99 the caller draws for pct= (the
 * message is selected when rand100 < pct). */
void dmarc_verdict(const struct orgdomain *od,
		   const struct dmarc_discover *d,
		   const struct dmarc_ids *ids, unsigned rand100,
		   struct dmarc_verdict *v);

/* "none", "pass", "fail", "temperror", "permerror". */
const char *dmarc_result_str(enum dmarc_result r);

#endif
