/* common/auth/spf_mech.h: inside the SPF evaluator: the mechanisms of
 * a record (RFC 7208 §5), the names and strings their macros expand to,
 * and the answers a walk reads. Not an interface for other modules. */
#ifndef KANTORPOS_COMMON_SPF_MECH_H
#define KANTORPOS_COMMON_SPF_MECH_H

#include "common/auth/spf_run.h"

/* The answer to (name, type), or SPF_K_NEED with the question noted.
 * Returns 0 with *a_r. */
int spf_lookup(struct spf_run *r, const char *name, enum dns_type type,
	       const struct spf_answer **a_r);

/* The name a domain-spec (empty: domain itself) names with <domain>
 * domain, into out (SPF_NAME_LEN + 1 octets): 0, SPF_K_NEED (%{p} needs
 * an answer) or SPF_K_BADNAME. */
int spf_target(struct spf_run *r, struct spf_span spec, const char *domain,
	       char *out);

/* Expand a checked string of ctx with <domain> domain (%{p} resolved
 * first when it is used): the length, SPF_K_NEED, or -1. */
int spf_expand(struct spf_run *r, struct spf_span str, enum spf_macro_ctx ctx,
	       const char *domain, char *out, size_t size);

/* Evaluate one mechanism of a record of domain: SPF_K_MATCH,
 * SPF_K_NOMATCH, SPF_K_NEED, SPF_TEMPERROR or SPF_PERMERROR (r->why
 * set). */
int spf_mech_eval(struct spf_run *r, const struct spf_term *t,
		  const char *domain);

/* A limit exceeded: permerror with why. */
int spf_limit(struct spf_run *r, const char *why);

#endif
