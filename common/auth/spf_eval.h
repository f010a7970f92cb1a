/* common/auth/spf_eval.h: check_host() of SPF (RFC 7208 §4, §5, §6) as a
 * resumable evaluation that does no I/O: the caller starts it with the
 * client's address, the sender (MAIL FROM, or postmaster@HELO for the
 * null sender), the HELO name, its own host name and the time, then
 * loops: spf_step either asks one DNS question (a name and a type: TXT,
 * A, AAAA, MX, or PTR with the client's address literal as the name, as
 * common/dns's dns_lookup takes it) or says the result is there. The
 * caller answers each question with the struct dns_answer its resolver
 * gave (a timeout or SERVFAIL is DNS_TEMPFAIL; DNS_BOGUS counts as a
 * DNS error too). The HELO identity (RFC 7208 §2.3) is a second
 * evaluation with an empty sender.
 *
 * The evaluation keeps every answer and walks check_host() again from
 * the start after each one, reading the answers it has: a walk that
 * meets a question not answered yet stops there and asks it. No
 * question is asked twice, so an SPF record whose terms query the same
 * name again costs one query.
 *
 * Limits of §4.6.4: more than 10 terms that query DNS (include, a, mx,
 * ptr, exists, redirect) or more than 2 void lookups (NXDOMAIN, or no
 * records) is a permerror; an mx whose 11th host would be looked up is a
 * permerror; a ptr (and the p macro) reads the first 10 names only. The
 * explanation of exp= is looked up after a fail only, and its lookups
 * count against no limit. A TXT answer that dropped records (more than
 * DNS_MAX_RECORDS, or one with a NUL octet, which no SPF record has) is
 * a permerror: the domain's record cannot be told for sure.
 *
 * Names that cannot be asked (an empty label or one over 63 octets after
 * macro expansion) count as names that do not exist (§4.3, §4.8);
 * a resolver that refuses a name it may not look up answers NXDOMAIN.
 * Pure code otherwise: allocation only, no globals. */
#ifndef KANTORPOS_COMMON_SPF_EVAL_H
#define KANTORPOS_COMMON_SPF_EVAL_H

#include <stddef.h>
#include <time.h>

#include "common/auth/spf_result.h"
#include "common/dns/dns_types.h"

struct spf;

struct spf_input {
	const char *ip;       /* the client: "192.0.2.1", "2001:db8::1";
			       * "::ffff:192.0.2.1" is the IPv4 address */
	const char *sender;   /* MAIL FROM's address (no <>); "" or NULL:
			       * the HELO identity, postmaster@helo */
	const char *helo;     /* HELO/EHLO argument */
	const char *receiver; /* our host name, %{r}; NULL: "unknown" */
	time_t now;           /* %{t} */
};

/* One DNS question. name stays valid until the next spf_* call. */
struct spf_query {
	const char *name;
	enum dns_type type;
};

/* Start an evaluation. Returns it, or NULL with errno (EINVAL: ip is not
 * an address literal; ENOMEM). */
struct spf *spf_new(const struct spf_input *in);

/* Go on: 1 when the result is there (spf_result and the others below),
 * or 0 with *q_r the question spf_answer must answer next. */
int spf_step(struct spf *s, struct spf_query *q_r);

/* The answer to the question of the last spf_step (valid during the call
 * only; records of other types are ignored). Out of memory ends the
 * evaluation with temperror. */
void spf_answer(struct spf *s, const struct dns_answer *a);

/* End the evaluation now with temperror, "took too long": RFC 7208
 * §4.6.4 asks for a limit on the time one check takes (at least 20
 * seconds), which the caller keeps, as it knows the clock. */
void spf_give_up(struct spf *s);

/* After spf_step returned 1: */
enum spf_result spf_result(const struct spf *s);
/* The explanation of a fail from the record's exp= (RFC 7208 §6.2), or
 * NULL when there is none (the caller's default applies). */
const char *spf_explanation(const struct spf *s);
/* The term that decided as written ("-all", "include:example.net"): the
 * one that matched, or for permerror and temperror the one where the
 * error arose; "" for none and for neutral by default. */
const char *spf_mechanism(const struct spf *s);
/* Why the result is none, temperror or permerror (static), else "". */
const char *spf_why(const struct spf *s);
/* The domain whose record was checked first (the sender's, or the HELO
 * name's for the HELO identity). */
const char *spf_domain(const struct spf *s);

void spf_free(struct spf *s);

#endif
