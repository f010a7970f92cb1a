/* common/auth/authres.h: the Authentication-Results header field (RFC
 * 8601): building the one kantorpos adds, and reading the authserv-id of
 * fields already in a message, so that those carrying our own id (a
 * forgery, or a stale copy: §5) can be removed and the others kept.
 *
 * The builder writes
 *   Authentication-Results: AUTHSERV-ID;
 *    spf=pass smtp.mailfrom=example.org;
 *    dkim=pass header.d=example.org header.s=sel header.b=AbC;
 *    dmarc=pass header.from=example.org
 * one result a line, longer ones folded between their words at 78
 * columns; a value that is neither a token nor [local-part@]domain is a
 * quoted string (§2.2), a reason always one (reason="..."); with no
 * result at all the field says "none".
 *
 * Pure code: no allocation in the builder, no globals. */
#ifndef KANTORPOS_COMMON_AUTHRES_H
#define KANTORPOS_COMMON_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/header.h"

#define AUTHRES_FIELD_MAX 8192  /* the whole field, folded */
#define AUTHRES_ID_MAX 255      /* an authserv-id read back */
#define AUTHRES_VALUE_MAX 512   /* a value, reason or comment, escaped,
				 * is cut to this many octets */

struct authres {
	char buf[AUTHRES_FIELD_MAX];
	size_t len;
	size_t col;     /* length of the line being written */
	unsigned n;     /* results written */
	bool bad;       /* it did not fit, or a name was no keyword */
};

/* Start the field for authserv_id (the host name of the checks). */
void authres_begin(struct authres *ar, const char *authserv_id);

/* A result: "method=result" ("dkim", "pass"), on a new line. */
void authres_result(struct authres *ar, const char *method,
		    const char *result);

/* The reason of the last result: reason="text". */
void authres_reason(struct authres *ar, const char *text);

/* A property of the last result: prop ("smtp.mailfrom", "header.d")
 * "=" value. */
void authres_prop(struct authres *ar, const char *prop, const char *value);

/* A comment after what came last: "(text)". */
void authres_comment(struct authres *ar, const char *text);

/* End the field: "Authentication-Results: ..." with its final CRLF, in
 * ar's buffer, its length in *len_r. NULL when a call was misused (a
 * property before any result, a name that is no keyword) or the field
 * did not fit. */
const char *authres_end(struct authres *ar, size_t *len_r);

/* Read the authserv-id of an Authentication-Results value
 * value[0..len) (what follows the colon, folded or not): comments and
 * folding skipped, a quoted string unquoted, into out (AUTHRES_ID_MAX +
 * 1 octets). Returns 0, or -1 when there is none (an empty value, an
 * unclosed quoted string, an id over AUTHRES_ID_MAX). */
int authres_id_parse(const char *value, size_t len, char *out);

/* Is f an Authentication-Results field whose authserv-id is id (without
 * ASCII case)? */
bool authres_is_ours(const struct hdr_field *f, const char *id);

#endif
