/* common/auth/dkim_verify.h: checking one DKIM signature (RFC 6376 §6.1)
 * once its body hash is done and its key record is at hand: policy
 * (rsa-sha1, RSA keys under 1024 bits: RFC 8301), expiry, the key
 * record's constraints, the body hash, then the signature itself,
 * rsa-sha256 (RSASSA-PKCS1-v1_5) or ed25519-sha256 (RFC 8463). The
 * result names are those of Authentication-Results (RFC 8601 §2.7.1).
 *
 * Pure code besides OpenSSL: no I/O, no globals. */
#ifndef KANTORPOS_COMMON_DKIM_VERIFY_H
#define KANTORPOS_COMMON_DKIM_VERIFY_H

#include <stddef.h>
#include <time.h>

#include "common/auth/dkim_bodyhash.h"
#include "common/auth/dkim_sig.h"

enum dkim_result {
	DKIM_PASS,
	DKIM_FAIL,       /* the signature or the body hash did not verify */
	DKIM_POLICY,     /* valid, but not acceptable: rsa-sha1, short key */
	DKIM_NEUTRAL,
	DKIM_PERMERROR,  /* bad signature or key record, no key */
	DKIM_TEMPERROR,  /* the key could not be fetched now */
};

/* How far in the future t= may be: clocks differ (a day). */
#define DKIM_CLOCK_SKEW 86400

/* "pass", "fail", ... as Authentication-Results writes them. */
const char *dkim_result_str(enum dkim_result r);

/* Check the signature sig read from the field field[0..field_len) (the
 * whole "DKIM-Signature:" field, its CRLF optional) of the header section
 * hdr[0..hdr_len), whose body went through body (finished, made with
 * sig's body canonicalization and l=). record[0..record_len) is the key
 * record's TXT data, NULL when there is none. now is the time of the
 * check. Returns the result, *reason_r a static text ("body hash did not
 * verify", "key revoked", ...; "" for pass). */
enum dkim_result dkim_verify_one(const struct dkim_sig *sig,
				 const char *field, size_t field_len,
				 const char *hdr, size_t hdr_len,
				 const struct dkim_bodyhash *body,
				 const char *record, size_t record_len,
				 time_t now, const char **reason_r);

#endif
