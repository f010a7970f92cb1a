/* common/auth/spf_record.h: an SPF record (RFC 7208 §4.5, §4.6, §5, §6):
 * whether a TXT string is one, its whole syntax checked before anything
 * is evaluated (§4.6: a syntax error anywhere is a permerror), and its
 * terms read one by one: mechanisms with their qualifier, domain-spec,
 * CIDR lengths or network, and the modifiers redirect=, exp= and unknown
 * ones.
 *
 * Pure code: no allocation, no globals. Spans point into the record. */
#ifndef KANTORPOS_COMMON_SPF_RECORD_H
#define KANTORPOS_COMMON_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "common/auth/spf_result.h"

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
	SPF_MODIFIER,    /* redirect=, exp= or an unknown one */
};

struct spf_span {
	const char *p;
	size_t len;      /* 0: absent */
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qual;   /* pass, fail, softfail or neutral */
	struct spf_span text;   /* the term as written */
	struct spf_span spec;   /* domain-spec of include a mx ptr exists */
	unsigned cidr4, cidr6;  /* a, mx: 32 and 128 unless given; ip4:
				 * cidr4, ip6: cidr6 */
	unsigned char net[16];  /* ip4 (4 octets), ip6: the network */
	struct spf_span name;   /* modifier: its name ... */
	struct spf_span value;  /* ... and its value */
};

/* A record whose syntax is checked. */
struct spf_record {
	const char *txt;
	size_t len;
	struct spf_span redirect; /* domain-spec of redirect=, if any */
	struct spf_span exp;      /* domain-spec of exp=, if any */
	unsigned dns_terms;       /* include a mx ptr exists, and redirect */
};

/* Whether txt[0..len) is an SPF record: "v=spf1" (any case) alone or
 * followed by a space (§4.5). */
bool spf_record_is_spf(const char *txt, size_t len);

/* Check the whole record txt[0..len) (spf_record_is_spf true): every
 * term well-formed, terms separated by spaces only, redirect= and exp=
 * at most once each (§6). Returns 0, or -1 with *why_r a static reason
 * and *at_r the offending term (a span into txt; the whole record when
 * no one term is to blame). */
int spf_record_parse(const char *txt, size_t len, struct spf_record *r,
		     const char **why_r, struct spf_span *at_r);

/* The term after offset *pos of a parsed record: 1 with *t and *pos
 * moved past it, 0 at the end. Start with *pos = 0. */
int spf_record_next(const struct spf_record *r, size_t *pos,
		    struct spf_term *t);

/* Read one term s[0..len) (no spaces in it). Returns 0, or -1 with
 * *why_r static. */
int spf_term_parse(const char *s, size_t len, struct spf_term *t,
		   const char **why_r);

#endif
