/* common/net/tls.h: OpenSSL contexts for kantorpos: the server context (loaded
 * from a certificate chain and a key, reloadable), the client context used by
 * the outbound SMTP client and the POP3 fetcher, per-connection client
 * verification (CA + host name, a pinned SHA-256 fingerprint, or DANE
 * TLSA records) and a readable error string from the OpenSSL error queue.
 *
 * Contexts are plain SSL_CTX pointers. OpenSSL counts references: every SSL
 * made from a context holds one, so a context replaced by tls_server_reload
 * stays alive until the last connection using it is freed.
 * None of these functions block on the network; loading reads files. */
#ifndef KANTORPOS_COMMON_TLS_H
#define KANTORPOS_COMMON_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* Length of a SHA-256 certificate fingerprint in bytes. */
#define TLS_FP_LEN 32
/* Room for "sha256:" + 32 hex pairs joined by ':' + NUL. */
#define TLS_FP_STRLEN (7 + TLS_FP_LEN * 3)

/* Build a server context: TLS 1.2 minimum, forward-secret AEAD ciphers, no
 * compression, no renegotiation, session tickets on. cert_file is a PEM
 * chain (leaf first), key_file the matching PEM private key.
 * Returns the context (caller owns one reference, SSL_CTX_free), or NULL
 * with a message in err naming the file by its kantorpos.conf keyword:
 *   "tls_cert PATH: No such file or directory"
 *   "tls_cert PATH: no start line (Expecting: TRUSTED CERTIFICATE)"
 *   "tls_key KEY does not match tls_cert CERT: key values mismatch" */
SSL_CTX *tls_server_ctx_new(const char *cert_file, const char *key_file,
			    char *err, size_t errlen);

/* Reload: build a new server context from the files and, on success, put it
 * into *ctx and drop the caller's reference to the old one (connections
 * still using it keep it alive). On failure *ctx is left unchanged.
 * Returns 0 or -1 with a message in err. */
int tls_server_reload(SSL_CTX **ctx, const char *cert_file,
		      const char *key_file, char *err, size_t errlen);

/* Build a client context: TLS 1.2 minimum, peer verification on. ca_file is
 * a PEM bundle of trust anchors, or NULL for the system store.
 * Returns the context (caller frees) or NULL with a message in err
 * ("CA file PATH: No such file or directory"). */
SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t errlen);

/* Prepare a client SSL before its handshake. host (may be NULL when a pin
 * is given) is sent as SNI when it is a name and, without a pin, is checked
 * against the certificate (DNS name or IP address). With pin (a parsed
 * fingerprint) CA verification is off and the caller must call
 * tls_check_pin after the handshake. Refuses (-1) a setup that would verify
 * nothing. Returns 0 or -1 with a message in err. */
int tls_client_prepare(SSL *ssl, const char *host,
		       const unsigned char *pin, char *err, size_t errlen);

/* A TLSA record (RFC 6698 section 2.1): certificate usage, selector,
 * matching type and the association data. */
struct tls_tlsa {
	uint8_t usage, selector, mtype;
	size_t len;
	const unsigned char *data;
};

/* What a DANE connection (RFC 7672) is verified against: the TLSA base
 * domain (sent as SNI and the first name a DANE-TA chain's leaf may
 * carry), further acceptable names, and the records. */
struct tls_dane {
	const char *base;
	const char *const *names;
	size_t n_names;
	const struct tls_tlsa *rrs;
	size_t n_rrs;
};

/* Whether a record can authenticate an SMTP server (RFC 7672 section 3.1:
 * usage DANE-TA(2) or DANE-EE(3); selector Cert(0) or SPKI(1); matching
 * Full(0), SHA2-256(1) or SHA2-512(2), with data of the digest's length).
 * Usages 0 and 1 are unusable for SMTP (RFC 7672 section 3.1.3). Pure. */
bool tls_tlsa_usable(const struct tls_tlsa *rr);

/* Prepare a client SSL for DANE (OpenSSL's SSL_dane_enable(3)): DANE is
 * enabled on its context (SSL_CTX_dane_enable, once: again is a no-op),
 * SNI and the first reference name are d->base, d->names are added, a
 * DANE-EE match checks neither names nor dates (RFC 7672 section 3.1.1),
 * every usable record is added (the rest skipped), TLS 1.2 at least, and
 * verification fails the handshake. Returns the number of records added,
 * or -1 with a message in err (none usable, OpenSSL refused). */
int tls_client_prepare_dane(SSL *ssl, const struct tls_dane *d, char *err,
			    size_t errlen);

/* After a client handshake with a pin: 1 when the peer certificate's
 * SHA-256 fingerprint equals pin, 0 when it differs or there is none. */
int tls_check_pin(SSL *ssl, const unsigned char pin[TLS_FP_LEN]);

/* Verify, after a handshake that did not (opportunistic STARTTLS), the
 * peer's chain against the trust anchors of trust (tls_ca_file or the
 * system store, tls_client_ctx_new) and host (a DNS name, RFC 6125), as
 * a verified handshake would, without failing anything. Returns
 * X509_V_OK or the first X509_V_ERR_* found (X509_V_ERR_UNSPECIFIED
 * when the peer sent no certificate or memory ran out). CPU only. */
long tls_verify_peer(SSL *ssl, SSL_CTX *trust, const char *host);

/* What a verification result says, in the terms of TLS reporting
 * (RFC 8460 section 4.3.1): OK, a name that does not match, outside the
 * validity dates, a chain to no trust anchor, a certificate matching no
 * TLSA record, or anything else. Pure. */
enum tls_vclass {
	TLS_VC_OK = 0,
	TLS_VC_HOST,
	TLS_VC_EXPIRED,
	TLS_VC_UNTRUSTED,
	TLS_VC_DANE,
	TLS_VC_OTHER,
};
enum tls_vclass tls_verify_class(long vr);

/* Parse "sha256:AB:CD:..." (hex pairs, case-insensitive, the colons
 * optional) into fp_r. Pure. Returns 0, or -1 on any other form. */
int tls_fp_parse(const char *s, unsigned char fp_r[TLS_FP_LEN]);

/* Format a fingerprint as "sha256:AB:CD:..." into buf (TLS_FP_STRLEN). */
void tls_fp_format(const unsigned char fp[TLS_FP_LEN], char *buf,
		   size_t buflen);

/* Drain the calling thread's OpenSSL error queue into buf as one readable
 * line, "what: cause; cause ...", what may be NULL. A system error shows
 * strerror of its errno; another shows its reason string and OpenSSL's
 * detail text in parentheses; the entries that only name the layer that
 * passed a cause on ("system lib", "PEM lib") are left out when a cause is
 * there; an empty queue gives "what: unknown TLS error". The one place
 * OpenSSL errors become text: every caller uses it. Returns buf. */
const char *tls_errstr(const char *what, char *buf, size_t buflen);

#endif
