/* common/auth/spf_macro.h: the macro language of SPF (RFC 7208 §7): the
 * syntax of a macro-string, of a domain-spec and of an explain-string,
 * and their expansion with the values of one evaluation.
 *
 * Pure code: no allocation, no globals. */
#ifndef KANTORPOS_COMMON_SPF_MACRO_H
#define KANTORPOS_COMMON_SPF_MACRO_H

#include <stdbool.h>
#include <stddef.h>

/* Where a string stands: a domain-spec (letters s l o d i p v h), an
 * unknown modifier's value (every letter), or the text of an explanation
 * record (every letter, and spaces). */
enum spf_macro_ctx {
	SPF_MACRO_DOMAIN,
	SPF_MACRO_MODIFIER,
	SPF_MACRO_EXP,
};

/* What the letters expand to (§7.2), each a C string. */
struct spf_macro_vars {
	const char *s;  /* <sender>: local-part@domain */
	const char *l;  /* local-part of <sender> */
	const char *o;  /* domain of <sender> */
	const char *d;  /* <domain> being checked */
	const char *i;  /* <ip>: dotted quad, or 32 dotted nibbles */
	const char *p;  /* validated domain name of <ip>; NULL: "unknown" */
	const char *v;  /* "in-addr" or "ip6" */
	const char *h;  /* HELO/EHLO domain */
	const char *c;  /* <ip> in its readable form (exp only) */
	const char *r;  /* the receiving host's name; NULL: "unknown" */
	const char *t;  /* the time, decimal seconds (exp only) */
};

/* Whether s[0..len) is a well-formed string of ctx: macro-literals
 * (%x21-24 / %x26-7E; and SP in an explanation), "%%", "%_", "%-", and
 * "%{" letter *DIGIT ["r"] *delimiter "}" with a letter ctx allows and a
 * part count that is not zero. Returns 0, or -1 with *why_r static. */
int spf_macro_check(const char *s, size_t len, enum spf_macro_ctx ctx,
		    const char **why_r);

/* Whether s[0..len) is a domain-spec: a macro-string of SPF_MACRO_DOMAIN
 * ending in a macro-expand or in "." toplabel ["."] (a toplabel is
 * letters, digits and "-", not all digits, neither first nor last "-").
 * An empty string is not one. Returns 0, or -1 with *why_r static. */
int spf_domain_spec_check(const char *s, size_t len, const char **why_r);

/* Whether a checked string s[0..len) uses the p letter (its value needs
 * DNS queries, so the caller resolves it only then). */
bool spf_macro_uses_p(const char *s, size_t len);

/* Expand the checked string s[0..len) of ctx with v into out (size
 * octets, at least 2, always NUL-terminated). A value split by
 * delimiters (default ".") is joined with "."; an uppercase letter's
 * value is URL-escaped (every octet but letters, digits and "-._~" as
 * %XX). A result longer than size - 1: for SPF_MACRO_DOMAIN at least
 * its last size / 2 octets are kept (a domain is cut from the left,
 * §7.3), otherwise its start. Returns the length written, or -1 with
 * *why_r static when s is not well-formed. */
int spf_macro_expand(const char *s, size_t len, enum spf_macro_ctx ctx,
		     const struct spf_macro_vars *v, char *out, size_t size,
		     const char **why_r);

#endif
