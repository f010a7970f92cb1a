/* common/auth/spf_answers.h: the DNS answers one SPF evaluation has been
 * given, kept for its length so that every question is asked once. A
 * copy of what check_host() reads of a struct dns_answer: the status,
 * whether records were dropped, and the records (TXT strings, PTR names,
 * MX hosts in preference order, A/AAAA addresses). */
#ifndef KANTORPOS_COMMON_SPF_ANSWERS_H
#define KANTORPOS_COMMON_SPF_ANSWERS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/dns/dns_types.h"

struct spf_answer {
	char *name;
	enum dns_type type;
	enum dns_status status;
	bool capped;
	size_t n;
	char **str;             /* TXT, PTR, MX: n strings */
	struct dns_addr *addr;  /* A, AAAA: n addresses */
};

struct spf_answers {
	struct spf_answer *v;
	size_t n, cap;
};

/* The answer kept for (name, type), names compared without case; NULL
 * when there is none yet. */
const struct spf_answer *spf_answers_find(const struct spf_answers *as,
					  const char *name,
					  enum dns_type type);

/* Keep a copy of a as the answer to (name, type); records of another
 * type than type are not copied. Returns 0, or -1 (ENOMEM). */
int spf_answers_add(struct spf_answers *as, const char *name,
		    enum dns_type type, const struct dns_answer *a);

/* Free every answer (as itself is the caller's). */
void spf_answers_free(struct spf_answers *as);

#endif
