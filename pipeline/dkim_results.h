/* pipeline/dkim_results.h: what DKIM verification (pipeline/
 * stage_dkimverify.c) found in a message received on mx, for the stages
 * after it (DMARC, Authentication-Results): one result a signature
 * checked, top down, with the properties RFC 8601 §2.7.1 reports. */
#ifndef KANTORPOS_PIPELINE_DKIM_RESULTS_H
#define KANTORPOS_PIPELINE_DKIM_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/auth/dkim_verify.h"

struct pipe_tx;

struct dkim_res {
	enum dkim_result result;
	const char *reason;     /* static; "" for pass */
	const char *d;          /* header.d (SDID); "" when it did not parse */
	const char *s;          /* header.s (selector); "" likewise */
	const char *i;          /* header.i (AUID) as written; NULL: none */
	size_t i_len;
	const char *a;          /* header.a: "rsa-sha256", ...; NULL */
	char b[9];              /* header.b: b='s first 8 base64 characters */
	bool has_l;             /* l= limited the body hash ... */
	uint64_t l;             /* ... to this many canonical octets */
	bool partial;           /* ... and the body is longer than that */
};

struct dkim_results {
	size_t n;               /* results: res[0..n) */
	const struct dkim_res *res;
	size_t unchecked;       /* signatures past dkim_max_signatures */
};

/* The results of tx once its end has run, or NULL when its signatures
 * were not checked (not mx, a trusted_networks client, no resolver,
 * dkim_max_signatures 0, an end not yet run). n == 0: no signature
 * (dkim=none). Valid until the transaction is reset. */
const struct dkim_results *dkim_results(struct pipe_tx *tx);

#endif
