/* tests/helpers/dkimmsg.h: whole messages through common/auth's DKIM
 * functions, for tests/test_dkim_verify.c and tests/dkimtool.c: check
 * the n-th DKIM-Signature of a message against a key record, sign a
 * message. Messages have CRLF line ends. */
#ifndef KANTORPOS_TESTS_DKIMMSG_H
#define KANTORPOS_TESTS_DKIMMSG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/auth/dkim_canon.h"
#include "common/auth/dkim_verify.h"

struct evp_pkey_st;

/* The length of the header section of msg[0..len) (its fields, without
 * the empty line); the body starts after that line (or at len). */
size_t dkimmsg_header_len(const char *msg, size_t len, size_t *body_r);

/* Check the n-th DKIM-Signature field (from the top, 0 first) of msg
 * against record (NULL: none) at time now; *reason_r as dkim_verify_one,
 * or "no such signature" / the parse error (permerror). d_r and s_r, when
 * not NULL, get d= and s= (room for 256). */
enum dkim_result dkimmsg_verify(const char *msg, size_t len, size_t n,
				const char *record, time_t now,
				const char **reason_r, char *d_r, char *s_r);

/* The DKIM-Signature field for msg, made with key (malloc'd), or NULL
 * with *why_r. names: NULL for the default list. */
char *dkimmsg_sign(const char *msg, size_t len, struct evp_pkey_st *key,
		   const char *domain, const char *selector,
		   enum dkim_canon hc, enum dkim_canon bc,
		   const char *const *names, uint64_t t, const char **why_r);

#endif
