/* common/auth/dkim_hdata.h: the header hash of a DKIM signature (RFC 6376
 * §3.7, §5.4.2): the fields h= names, each instance taken from the bottom
 * of the header section upwards (a name listed more often than it occurs
 * adds nothing: the null string), canonicalized with their CRLF, then the
 * DKIM-Signature field itself with the value of b= deleted and without
 * its final CRLF; SHA-256 over all of it. Signing and verifying both use
 * it: RSA signs this digest, Ed25519 signs it as its message (RFC 8463
 * §3). */
#ifndef KANTORPOS_COMMON_DKIM_HDATA_H
#define KANTORPOS_COMMON_DKIM_HDATA_H

#include <stddef.h>

#include "common/auth/dkim_bodyhash.h"
#include "common/auth/dkim_canon.h"
#include "common/auth/dkim_sig.h"

/* Hash the header section hdr[0..hdr_len) (CRLF line ends; the empty line
 * that ends it may be there or not) under the names h and canonicalization
 * c, then the signature field sig[0..sig_len) ("DKIM-Signature:" and its
 * value, its CRLF optional); the field need not be part of hdr. Returns 0
 * with digest filled, or -1 (out of memory, a field without a b= tag). */
int dkim_header_hash(enum dkim_canon c, const struct dkim_names *h,
		     const char *hdr, size_t hdr_len, const char *sig,
		     size_t sig_len, unsigned char digest[DKIM_HASH_LEN]);

#endif
