/* common/auth/spf_run.h: inside the SPF evaluator (spf_eval.c, the walk
 * of check_host() and its records; spf_mech.c, the mechanisms): the
 * evaluation and one walk over it. Not an interface for other modules. */
#ifndef KANTORPOS_COMMON_SPF_RUN_H
#define KANTORPOS_COMMON_SPF_RUN_H

#include <stdbool.h>

#include "common/auth/spf_answers.h"
#include "common/auth/spf_macro.h"
#include "common/auth/spf_record.h"
#include "common/auth/spf_result.h"

#define SPF_DNS_TERMS_MAX 10 /* §4.6.4 */
#define SPF_VOID_MAX 2
#define SPF_NAMES_MAX 10     /* MX hosts, PTR names */
#define SPF_NAME_LEN 253     /* longest name asked (§4.6.4, §7.3) */
#define SPF_ANSWERS_MAX 500  /* far above what the limits allow */

/* Codes of a walk besides the results of enum spf_result. */
enum {
	SPF_K_NEED = 100, /* a question without an answer: stop, ask it */
	SPF_K_MATCH,
	SPF_K_NOMATCH,
	SPF_K_BADNAME,    /* an expanded name that cannot be asked */
};

struct spf {
	int family;                  /* AF_INET or AF_INET6 */
	unsigned char ip[16];
	char ip_c[48];               /* %{c}, and the PTR question */
	char ip_i[72];               /* %{i}: dotted octets or nibbles */
	char *sender, *local, *domain, *helo, *receiver;
	char t[24];
	bool domain_ok;              /* §4.3: else the result is none */
	struct spf_answers answers;
	char want[SPF_NAME_LEN + 1];
	enum dns_type want_type;
	bool done;
	enum spf_result result;
	char *exp;
	char mech[512];
	const char *why;
};

/* One walk of check_host() over the answers so far. */
struct spf_run {
	struct spf *s;
	unsigned terms, voids;
	bool p_done;                         /* %{p}'s names resolved */
	const char *p_names[SPF_NAMES_MAX];  /* validated, in PTR order */
	size_t n_p;
	struct spf_span exp;                 /* exp= of the deciding record */
	char exp_domain[SPF_NAME_LEN + 1];
	struct spf_span match;               /* the term that matched */
	struct spf_span err_at;              /* where an error arose */
	const char *why;
	/* check_host() itself, for include (spf_eval.c's) */
	int (*check_host)(struct spf_run *r, const char *domain);
};

#endif
