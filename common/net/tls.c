/* common/net/tls.c: OpenSSL server and client contexts, client verification
 * (CA + name, or SHA-256 pin) and error strings; see tls.h. */
#include "autoconf.h"

#include "common/net/tls.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* TLS 1.2 suites: forward secrecy and AEAD only (the Mozilla "intermediate"
 * set). TLS 1.3 keeps OpenSSL's defaults, which are all AEAD. */
#define TLS_CIPHERS_12 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:" \
	"DHE-RSA-CHACHA20-POLY1305"

/* Longest file name an error message shows in full. */
#define PATH_MAX_SHOWN 1024

static const unsigned char tls_sid_ctx[] = "kantorpos";

static int ctx_common(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return -1;
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1)
		return -1;
	/* Mail protocols end with their own QUIT/"." markers, and many clients
	 * close without close_notify: treat a bare TCP close as end of input
	 * rather than as a TLS error. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Partial writes and a moving buffer: the conn output buffer may be
	 * reallocated between a WANT_WRITE and the retry. Released buffers keep
	 * an idle TLS connection small. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

/* The key loaded but belongs to another certificate. */
static bool key_mismatch(unsigned long e)
{
	return ERR_GET_LIB(e) == ERR_LIB_X509 &&
	       (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
		ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
}

SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
			    char *err, size_t errlen)
{
	char what[2 * PATH_MAX_SHOWN + 64];
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_errstr("SSL_CTX_new", err, errlen);
		return NULL;
	}
	if (ctx_common(ctx) < 0) {
		tls_errstr("TLS settings", err, errlen);
		goto fail;
	}
	/* Client-initiated renegotiation is off by default in OpenSSL 3
	 * (SSL_OP_ALLOW_CLIENT_RENEGOTIATION is never set here). */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_dh_auto(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, tls_sid_ctx, sizeof tls_sid_ctx - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(what, sizeof what, "tls_cert %s", cert_file);
		tls_errstr(what, err, errlen);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		if (key_mismatch(ERR_peek_last_error()))
			snprintf(what, sizeof what,
				 "tls_key %s does not match tls_cert %s",
				 key_file, cert_file);
		else
			snprintf(what, sizeof what, "tls_key %s", key_file);
		tls_errstr(what, err, errlen);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int tls_server_reload(SSL_CTX **ctx, const char *cert_file,
		      const char *key_file, char *err, size_t errlen)
{
	SSL_CTX *fresh = tls_server_ctx_new(cert_file, key_file, err, errlen);

	if (fresh == NULL)
		return -1;
	SSL_CTX_free(*ctx);
	*ctx = fresh;
	return 0;
}

SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	int ok;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		tls_errstr("SSL_CTX_new", err, errlen);
		return NULL;
	}
	if (ctx_common(ctx) < 0) {
		tls_errstr("TLS settings", err, errlen);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (ca_file != NULL)
		ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		char what[PATH_MAX_SHOWN + 32];

		if (ca_file != NULL)
			snprintf(what, sizeof what, "CA file %s", ca_file);
		else
			snprintf(what, sizeof what, "the system trust store");
		tls_errstr(what, err, errlen);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

static bool is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

int tls_client_prepare(SSL *ssl, const char *host,
		       const unsigned char *pin, char *err, size_t errlen)
{
	bool has_host = host != NULL && *host != '\0';

	ERR_clear_error();
	/* SNI carries names only (RFC 6066 section 3). */
	if (has_host && !is_ip_literal(host) &&
	    SSL_set_tlsext_host_name(ssl, host) != 1) {
		tls_errstr("SNI", err, errlen);
		return -1;
	}
	if (pin != NULL) {
		/* The pin replaces CA verification: a self-signed certificate
		 * is the usual case. The caller checks it after the handshake,
		 * before any application data is exchanged. */
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (!has_host) {
		snprintf(err, errlen, "neither a host name to verify nor a pin");
		return -1;
	}
	if (is_ip_literal(host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) {
			tls_errstr("expected IP address", err, errlen);
			return -1;
		}
	} else if (SSL_set1_host(ssl, host) != 1) {
		tls_errstr("expected host name", err, errlen);
		return -1;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return 0;
}

bool tls_tlsa_usable(const struct tls_tlsa *rr)
{
	if ((rr->usage != 2 && rr->usage != 3) || rr->selector > 1 ||
	    rr->len == 0 || rr->data == NULL)
		return false;
	switch (rr->mtype) {
	case 0:
		return true;
	case 1:
		return rr->len == 32;
	case 2:
		return rr->len == 64;
	default:
		return false;
	}
}

/* Add the usable records of d; returns how many, or -1 (err). */
static int dane_add_records(SSL *ssl, const struct tls_dane *d, char *err,
			    size_t errlen)
{
	int added = 0;

	for (size_t i = 0; i < d->n_rrs; i++) {
		const struct tls_tlsa *rr = &d->rrs[i];
		int r;

		if (!tls_tlsa_usable(rr))
			continue;
		r = SSL_dane_tlsa_add(ssl, rr->usage, rr->selector, rr->mtype,
				      rr->data, rr->len);
		if (r < 0) {
			tls_errstr("TLSA record", err, errlen);
			return -1;
		}
		added += r > 0;
	}
	if (added == 0)
		snprintf(err, errlen, "no usable TLSA record");
	return added > 0 ? added : -1;
}

int tls_client_prepare_dane(SSL *ssl, const struct tls_dane *d, char *err,
			    size_t errlen)
{
	ERR_clear_error();
	if (d->base == NULL || *d->base == '\0' || is_ip_literal(d->base)) {
		snprintf(err, errlen, "DANE needs a TLSA base domain");
		return -1;
	}
	if (SSL_CTX_dane_enable(SSL_get_SSL_CTX(ssl)) <= 0 ||
	    SSL_set_min_proto_version(ssl, TLS1_2_VERSION) != 1 ||
	    SSL_set_tlsext_host_name(ssl, d->base) != 1 ||
	    SSL_dane_enable(ssl, d->base) <= 0) {
		tls_errstr("DANE", err, errlen);
		return -1;
	}
	for (size_t i = 0; i < d->n_names; i++) {
		if (d->names[i] != NULL && *d->names[i] != '\0' &&
		    strcasecmp(d->names[i], d->base) != 0 &&
		    SSL_add1_host(ssl, d->names[i]) != 1) {
			tls_errstr("DANE reference name", err, errlen);
			return -1;
		}
	}
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return dane_add_records(ssl, d, err, errlen);
}

/* SHA-256 fingerprint of the peer certificate of ssl into fp_r.
 * Returns 0, or -1 when the peer sent no certificate. */
static int tls_peer_fp(SSL *ssl, unsigned char fp_r[TLS_FP_LEN])
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	unsigned int len = 0;

	if (cert == NULL)
		return -1;
	if (X509_digest(cert, EVP_sha256(), fp_r, &len) != 1 ||
	    len != TLS_FP_LEN)
		return -1;
	return 0;
}

int tls_check_pin(SSL *ssl, const unsigned char pin[TLS_FP_LEN])
{
	unsigned char fp[TLS_FP_LEN];

	if (tls_peer_fp(ssl, fp) < 0)
		return 0;
	return CRYPTO_memcmp(fp, pin, TLS_FP_LEN) == 0;
}

long tls_verify_peer(SSL *ssl, SSL_CTX *trust, const char *host)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	long vr = X509_V_ERR_UNSPECIFIED;

	if (leaf != NULL && x != NULL &&
	    X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(trust), leaf,
				SSL_get_peer_cert_chain(ssl)) == 1) {
		X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(x);

		X509_STORE_CTX_set_purpose(x, X509_PURPOSE_SSL_SERVER);
		if (host != NULL && *host != '\0' &&
		    X509_VERIFY_PARAM_set1_host(p, host, 0) != 1)
			vr = X509_V_ERR_UNSPECIFIED;
		else
			vr = X509_verify_cert(x) == 1
				     ? X509_V_OK
				     : X509_STORE_CTX_get_error(x);
	}
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	return vr;
}

enum tls_vclass tls_verify_class(long vr)
{
	switch (vr) {
	case X509_V_OK:
		return TLS_VC_OK;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return TLS_VC_HOST;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_VC_EXPIRED;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
	case X509_V_ERR_INVALID_CA:
		return TLS_VC_UNTRUSTED;
	case X509_V_ERR_DANE_NO_MATCH:
		return TLS_VC_DANE;
	default:
		return TLS_VC_OTHER;
	}
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int tls_fp_parse(const char *s, unsigned char fp_r[TLS_FP_LEN])
{
	size_t n = 0;
	int hi, lo;

	if (s == NULL || strncasecmp(s, "sha256:", 7) != 0)
		return -1;
	s += 7;
	while (n < TLS_FP_LEN) {
		/* A colon separates pairs; none may lead, trail or double. */
		if (n > 0 && *s == ':')
			s++;
		hi = hexval(s[0]);
		if (hi < 0)
			return -1;
		lo = hexval(s[1]);
		if (lo < 0)
			return -1;
		fp_r[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	return *s == '\0' ? 0 : -1;
}

void tls_fp_format(const unsigned char fp[TLS_FP_LEN], char *buf,
		   size_t buflen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t pos, i;

	if (buflen < TLS_FP_STRLEN) {
		if (buflen > 0)
			buf[0] = '\0';
		return;
	}
	memcpy(buf, "sha256:", 7);
	pos = 7;
	for (i = 0; i < TLS_FP_LEN; i++) {
		if (i > 0)
			buf[pos++] = ':';
		buf[pos++] = hex[fp[i] >> 4];
		buf[pos++] = hex[fp[i] & 15];
	}
	buf[pos] = '\0';
}

/* OpenSSL wraps the real cause in entries like "system lib" or "PEM lib"
 * that only say which layer passed it on: left out when a cause is there. */
static bool err_is_wrapper(unsigned long e)
{
	int r = ERR_GET_REASON(e) & ~(ERR_RFLAGS_MASK << ERR_RFLAGS_OFFSET);

	return ERR_COMMON_ERROR(e) && r < ERR_LIB_USER;
}

/* One queue entry as text: strerror for a system error (OpenSSL 3 keeps
 * errno as the reason), else the reason string and its detail text. */
static void err_text(unsigned long e, const char *data, int flags,
		     char *out, size_t outlen)
{
	const char *reason;

	if (ERR_SYSTEM_ERROR(e)) {
		snprintf(out, outlen, "%s", strerror(ERR_GET_REASON(e)));
		return;
	}
	reason = ERR_reason_error_string(e);
	if (reason == NULL) {
		ERR_error_string_n(e, out, outlen);
		return;
	}
	if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0')
		snprintf(out, outlen, "%s (%s)", reason, data);
	else
		snprintf(out, outlen, "%s", reason);
}

static size_t append(char *buf, size_t buflen, size_t pos, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));

/* snprintf at buf + pos; returns the new end, clamped to the buffer. */
static size_t append(char *buf, size_t buflen, size_t pos, const char *fmt,
		     ...)
{
	va_list ap;
	int n;

	if (pos >= buflen - 1)
		return pos;
	va_start(ap, fmt);
	n = vsnprintf(buf + pos, buflen - pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return pos;
	return (size_t)n < buflen - pos ? pos + (size_t)n : buflen - 1;
}

/* Room for the causes of one failure; a longer queue keeps its first. */
#define TLS_ERR_MAX 8

/* texts[i] repeats an earlier entry, or says less of the same: "no such
 * file" after the system's "No such file or directory". */
static bool said_before(char texts[][160], size_t i)
{
	size_t len = strlen(texts[i]);

	for (size_t j = 0; j < i; j++)
		if (strncasecmp(texts[j], texts[i], len) == 0)
			return true;
	return false;
}

const char *tls_errstr(const char *what, char *buf, size_t buflen)
{
	char texts[TLS_ERR_MAX][160];
	bool wrapper[TLS_ERR_MAX];
	const char *data;
	unsigned long e;
	size_t n = 0, i, pos = 0, causes = 0;
	const char *sep;
	int flags;

	if (buflen == 0) {
		ERR_clear_error();
		return buf;
	}
	/* Peek, copy, then pop: the detail text belongs to the entry. */
	while ((e = ERR_peek_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (n < TLS_ERR_MAX) {
			err_text(e, data, flags, texts[n], sizeof texts[n]);
			wrapper[n] = err_is_wrapper(e);
			causes += !wrapper[n];
			n++;
		}
		ERR_get_error();
	}
	buf[0] = '\0';
	if (what != NULL)
		pos = append(buf, buflen, pos, "%s", what);
	sep = pos > 0 ? ": " : "";
	for (i = 0; i < n; i++) {
		if ((causes > 0 && wrapper[i]) || said_before(texts, i))
			continue;
		pos = append(buf, buflen, pos, "%s%s", sep, texts[i]);
		sep = "; ";
	}
	if (n == 0)
		append(buf, buflen, pos, "%sunknown TLS error", sep);
	return buf;
}
