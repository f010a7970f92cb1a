/* common/auth/orgdomain.h: the Organizational Domain of a domain name
 * (RFC 7489 §3.2) through the Public Suffix List, read by libpsl, and
 * identifier alignment (RFC 7489 §3.1) on top of it.
 *
 * The list is the Debian package publicsuffix's file, loaded once at
 * start-up (a blocking read) and then only read: one list may serve
 * every lookup of a process, from any thread. Both sections of the list
 * count, ICANN and PRIVATE, as libpsl's psl_registrable_domain takes
 * them: two customers of one hosting suffix (a.github.io, b.github.io)
 * are two organizations, as their owners are. A name no rule matches
 * falls under the implicit rule "*" (its last label is the suffix).
 *
 * Names compare without ASCII case and without one final dot; IDNA
 * A-labels ("xn--...") are taken as given, as the DNS carries them. */
#ifndef KANTORPOS_COMMON_ORGDOMAIN_H
#define KANTORPOS_COMMON_ORGDOMAIN_H

#include <stdbool.h>
#include <stddef.h>

/* The list Debian's publicsuffix package installs (libpsl's compact
 * form of public_suffix_list.dat, from the same data). */
#define ORGDOMAIN_LIST_DEFAULT "/usr/share/publicsuffix/public_suffix_list.dafsa"

/* Longest name handled, without the final dot (RFC 1035 §2.3.4). */
#define ORGDOMAIN_NAME_MAX 253

struct orgdomain;

/* Load the list at path (NULL: ORGDOMAIN_LIST_DEFAULT), in the text form
 * (public_suffix_list.dat) or libpsl's DAFSA. Returns it, or NULL with a
 * message in err. */
struct orgdomain *orgdomain_load(const char *path, char *err, size_t errlen);

void orgdomain_free(struct orgdomain *od);

/* The Organizational Domain of name into out (ORGDOMAIN_NAME_MAX + 1
 * octets), in lower case without the final dot: the longest public suffix
 * of name plus one label ("mail.example.co.uk" -> "example.co.uk"); a
 * name that is itself a public suffix is its own ("co.uk"). Returns 0, or
 * -1 when name is no domain name (empty, an empty label, a label over 63
 * octets, over ORGDOMAIN_NAME_MAX, a blank or control octet). */
int orgdomain_get(const struct orgdomain *od, const char *name, char *out);

/* Whether identifier id aligns with the author domain from (RFC 7489
 * §3.1): strict, the same name; relaxed, the same Organizational Domain.
 * A name that is no domain name aligns with nothing. */
bool orgdomain_aligned(const struct orgdomain *od, const char *id,
		       const char *from, bool strict);

/* Copy name into out (ORGDOMAIN_NAME_MAX + 1 octets) in ASCII lower
 * case without one final dot, checked as orgdomain_get checks it.
 * Returns 0 or -1. */
int orgdomain_normalize(const char *name, char *out);

#endif
