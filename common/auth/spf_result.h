/* common/auth/spf_result.h: the results of an SPF check (RFC 7208 §2.6)
 * and their names as Authentication-Results and Received-SPF write them
 * (RFC 8601 §2.7.2). */
#ifndef KANTORPOS_COMMON_SPF_RESULT_H
#define KANTORPOS_COMMON_SPF_RESULT_H

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror",
 * "permerror" (static). */
const char *spf_result_str(enum spf_result r);

#endif
