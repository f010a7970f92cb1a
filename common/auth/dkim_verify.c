/* common/auth/dkim_verify.c: one DKIM signature checked (RFC 6376 §6.1.3,
 * RFC 8301, RFC 8463). */
#include "autoconf.h"

#include "common/auth/dkim_verify.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <stdlib.h>
#include <string.h>

#include "common/auth/dkim_hdata.h"
#include "common/auth/dkim_key.h"

#define RSA_MIN_BITS 1024 /* RFC 8301 §3.2 */

const char *dkim_result_str(enum dkim_result r)
{
	switch (r) {
	case DKIM_PASS: return "pass";
	case DKIM_FAIL: return "fail";
	case DKIM_POLICY: return "policy";
	case DKIM_NEUTRAL: return "neutral";
	case DKIM_PERMERROR: return "permerror";
	case DKIM_TEMPERROR: return "temperror";
	}
	return "neutral";
}

static enum dkim_result said(const char **why_r, enum dkim_result r,
			     const char *why)
{
	*why_r = why;
	return r;
}

/* What the signature and the body decide before any key is looked at. */
static enum dkim_result check_sig(const struct dkim_sig *sig,
				  const struct dkim_bodyhash *body,
				  time_t now, const char **why_r)
{
	if (sig->alg == DKIM_RSA_SHA1)
		return said(why_r, DKIM_POLICY, "rsa-sha1 not accepted");
	if (sig->alg == DKIM_ED25519_SHA256 && sig->b_len != 64)
		return said(why_r, DKIM_PERMERROR, "bad Ed25519 signature size");
	if (sig->has_t && now >= 0 &&
	    sig->t > (uint64_t)now + DKIM_CLOCK_SKEW)
		return said(why_r, DKIM_PERMERROR, "t= in the future");
	if (sig->has_x && now >= 0 && sig->x < (uint64_t)now)
		return said(why_r, DKIM_FAIL, "signature expired");
	if (body->failed)
		return said(why_r, DKIM_TEMPERROR, "body hash failed");
	if (sig->has_l && sig->l > body->total)
		return said(why_r, DKIM_FAIL, "body shorter than l=");
	if (sig->bh_len != DKIM_HASH_LEN ||
	    memcmp(sig->bh, body->digest, DKIM_HASH_LEN) != 0)
		return said(why_r, DKIM_FAIL, "body hash did not verify");
	return DKIM_PASS;
}

/* The key record's own constraints on this signature. */
static enum dkim_result check_key(const struct dkim_sig *sig,
				  const struct dkim_key *key,
				  const char **why_r)
{
	const char *dom;

	if (key->revoked)
		return said(why_r, DKIM_PERMERROR, "key revoked");
	if ((key->type == DKIM_KEY_ED25519) !=
	    (sig->alg == DKIM_ED25519_SHA256))
		return said(why_r, DKIM_PERMERROR, "key type mismatch");
	if (!key->sha256)
		return said(why_r, DKIM_PERMERROR, "hash not allowed by key");
	if (key->strict && sig->i != NULL) {
		dom = (const char *)memrchr(sig->i, '@', sig->i_len) + 1;
		if (strlen(sig->d) != sig->i_len - (size_t)(dom - sig->i) ||
		    !dkim_domain_within(dom, strlen(sig->d), sig->d))
			return said(why_r, DKIM_PERMERROR,
				    "i= is not d= (strict key)");
	}
	return DKIM_PASS;
}

static EVP_PKEY *load_key(const struct dkim_key *key)
{
	const unsigned char *p = key->p;
	EVP_PKEY *pk;

	if (key->type == DKIM_KEY_ED25519)
		return key->p_len != 32 ? NULL :
		       EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						   key->p, key->p_len);
	pk = d2i_PUBKEY(NULL, &p, (long)key->p_len);
	if (pk == NULL) { /* a bare RSAPublicKey, as some records carry */
		p = key->p;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)key->p_len);
	}
	if (pk != NULL && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

/* Does sig's b= verify over digest under pk? */
static int crypto_ok(EVP_PKEY *pk, const struct dkim_sig *sig,
		     const unsigned char *digest)
{
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *ctx;
	int ok = 0;

	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
		md = EVP_MD_CTX_new();
		ok = md != NULL &&
		     EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(md, sig->b, sig->b_len, digest,
				      DKIM_HASH_LEN) == 1;
		EVP_MD_CTX_free(md);
		return ok;
	}
	ctx = EVP_PKEY_CTX_new(pk, NULL);
	ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_verify(ctx, sig->b, sig->b_len, digest,
			     DKIM_HASH_LEN) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static enum dkim_result check_crypto(const struct dkim_sig *sig,
				     const struct dkim_key *key,
				     const unsigned char *digest,
				     const char **why_r)
{
	EVP_PKEY *pk = load_key(key);
	enum dkim_result r;

	if (pk == NULL)
		return said(why_r, DKIM_PERMERROR, "unusable public key");
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA &&
	    EVP_PKEY_get_bits(pk) < RSA_MIN_BITS)
		r = said(why_r, DKIM_POLICY, "RSA key shorter than 1024 bits");
	else if (!crypto_ok(pk, sig, digest))
		r = said(why_r, DKIM_FAIL, "signature did not verify");
	else
		r = said(why_r, DKIM_PASS, "");
	EVP_PKEY_free(pk);
	return r;
}

/* The key record read and applied, then the signature checked. */
static enum dkim_result with_key(const struct dkim_sig *sig,
				 const struct dkim_key *key,
				 const char *field, size_t field_len,
				 const char *hdr, size_t hdr_len,
				 const char **why_r)
{
	unsigned char digest[DKIM_HASH_LEN];
	enum dkim_result r = check_key(sig, key, why_r);

	if (r != DKIM_PASS)
		return r;
	if (dkim_header_hash(sig->hcanon, &sig->h, hdr, hdr_len, field,
			     field_len, digest) < 0)
		return said(why_r, DKIM_TEMPERROR, "header hash failed");
	return check_crypto(sig, key, digest, why_r);
}

enum dkim_result dkim_verify_one(const struct dkim_sig *sig,
				 const char *field, size_t field_len,
				 const char *hdr, size_t hdr_len,
				 const struct dkim_bodyhash *body,
				 const char *record, size_t record_len,
				 time_t now, const char **reason_r)
{
	struct dkim_key *key;
	enum dkim_result r;

	r = check_sig(sig, body, now, reason_r);
	if (r != DKIM_PASS)
		return r;
	if (record == NULL)
		return said(reason_r, DKIM_PERMERROR, "no key record");
	key = malloc(sizeof(*key));
	if (key == NULL)
		return said(reason_r, DKIM_TEMPERROR, "out of memory");
	if (dkim_key_parse(record, record_len, key, reason_r) < 0)
		r = DKIM_PERMERROR;
	else
		r = with_key(sig, key, field, field_len, hdr, hdr_len,
			     reason_r);
	free(key);
	return r;
}
