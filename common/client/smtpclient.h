/* common/client/smtpclient.h: the one outbound SMTP client of kantorpos, used by
 * the queue runner (ETRN domains, relay host, bounces) and by
 * `kantorpos etrn`. Non-blocking, on a conn (common/net/conn.h).
 *
 * A session: the host name is resolved on the worker pool (an address
 * literal needs no resolution: the connect starts from the loop at once),
 * each address is tried in turn (from the bind address of its family, if
 * given), then (IMPLICIT) the TLS handshake, the greeting, EHLO (HELO
 * when EHLO is refused), STARTTLS per the TLS mode and EHLO again under
 * TLS, and AUTH when a login is given. Then on_ready: the owner gives one
 * message (smtpc_send), one command (smtpc_command) or ends the session
 * (smtpc_quit), and gets on_ready again after each.
 *
 * A message is MAIL, RCPT for each recipient and DATA (the RFC 3461
 * parameters on MAIL and RCPT only when the server offers DSN), sent in one write
 * when the server offers PIPELINING (RFC 2920), one at a time otherwise;
 * the body is read from a file descriptor (a duplicate of it, read ahead
 * 64 KiB at a time on the worker pool while the piece before is sent),
 * dot-stuffed (RFC 5321 4.5.2), bare LF made CRLF, and streamed with
 * back-pressure. Every
 * recipient gets a final reply: 2xx delivered, 4xx (or code 0 when the
 * connection failed) temporary, 5xx permanent. After an incomplete
 * transaction the client sends RSET before the next on_ready.
 *
 * Replies are matched in order to the commands already sent (and the
 * greeting). Out of step is a protocol error: a reply with nothing owed,
 * bytes still unread when the client writes (a command, the body, the TLS
 * handshake after STARTTLS's 220: they came before it, so they cannot
 * answer it — such as a 250 sent with the 354 before the end of data), or
 * a reply its command cannot have (a 2xx to DATA, a 3xx to anything but
 * DATA and AUTH's steps, a 2xx but 235 to AUTH). Then the session closes, on_close says "protocol error: ...",
 * and every recipient of the message in flight gets code 0 (temporary),
 * whatever earlier replies of that transaction said. What follows the
 * reply to QUIT is not read.
 *
 * Timeouts follow RFC 5321 4.5.3.2 (greeting, MAIL, RCPT 5 min; DATA 2
 * min; each data block 3 min; the final dot 10 min) unless a single
 * timeout is given.
 *
 * TLS: NONE never; OPPORTUNISTIC uses STARTTLS when offered with a context
 * that accepts any certificate (smtpc_ctx_any_new: encryption against
 * passive listeners, no authentication — an MX rarely has a certificate
 * for the name we know it by), falling back to plaintext only when the
 * server refuses STARTTLS with a reply; REQUIRED fails the session unless
 * STARTTLS succeeds with verification against the verifying context and
 * tls_name (or a pin, which replaces CA verification); IMPLICIT (RFC 8314
 * section 3, the submissions port 465) handshakes right after connecting,
 * before the greeting, verified as REQUIRED is.
 *
 * The two modes of DANE (RFC 7672) make STARTTLS mandatory: no STARTTLS
 * in the EHLO reply ("TLS is required, but was not offered by NAME"), a
 * reply other than 220 to it ("TLS is required, but NAME refused
 * STARTTLS: REPLY") or a failed handshake fail the session with code 0
 * (temporary) before MAIL; there is never a plaintext retry. NAME is
 * tls_name. ENCRYPT (a secure TLSA RRset with no usable record, RFC 7672
 * section 3.1.3) accepts any certificate, as OPPORTUNISTIC does. DANE
 * verifies with OpenSSL's DANE (SSL_dane_enable(3)) on verify_ctx, on
 * which it is enabled at first use: SNI and the first reference name are
 * dane_base (the TLSA base domain, RFC 7672 section 8.1), dane_names are
 * further names a DANE-TA chain's leaf may carry (the MX host name, the
 * next-hop domain: RFC 7672 section 3.2.2); DANE-EE(3) checks neither
 * names nor validity dates (section 3.1.1); only usable records are used
 * (tls_tlsa_usable: usages 2 and 3, selectors 0 and 1, matching types 0,
 * 1 and 2), none usable fails the session; TLS 1.2 at least. A
 * certificate that matches no record fails it with "DANE verification
 * failed: ...".
 *
 * With tls_check, OPPORTUNISTIC verifies the certificate (against
 * verify_ctx's trust anchors and tls_name) after the handshake without
 * failing anything; smtpc_tls_outcome tells what TLS came to in every
 * mode, for TLS reporting (RFC 8460).
 *
 * AUTH (RFC 4954), when auth_user is given: after the last EHLO, only
 * under TLS — without it the session fails before a word of the login is
 * sent, and so it does when the server offers no AUTH or neither PLAIN
 * (RFC 4616, preferred, with the initial response while the line stays
 * within 512 octets) nor LOGIN. 235 goes on to on_ready; any other reply
 * (535, 534, 454, ...) fails the session with "HOST: authentication
 * failed: REPLY" and that reply in last. The trace shows "AUTH PLAIN
 * ****" and "<SASL response>" for what carries the login; the password
 * is copied and wiped (sodium_memzero) when the session is freed.
 *
 * Callbacks run from the event loop only, never inside an smtpc_* call.
 * All functions are loop-thread only and never block: the name is
 * resolved and the body read on the pool given to smtpc_start, which
 * should be one for jobs that wait (a daemon's storage pool, never the
 * Argon2id pool: common/runtime/server_pools.h). */
#ifndef KANTORPOS_COMMON_SMTPCLIENT_H
#define KANTORPOS_COMMON_SMTPCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/net/tls.h"

struct ev_loop;
struct worker;
struct smtpc;

enum smtpc_tls {
	SMTPC_TLS_OPPORTUNISTIC = 0,
	SMTPC_TLS_REQUIRED,
	SMTPC_TLS_NONE,
	SMTPC_TLS_IMPLICIT, /* TLS from the first byte, verified */
	SMTPC_TLS_ENCRYPT,  /* STARTTLS mandatory, any certificate */
	SMTPC_TLS_DANE,     /* STARTTLS mandatory, verified by TLSA records */
};

/* Room for a reply's text (all lines joined by " "). */
#define SMTPC_TEXT_MAX 512

struct smtpc_reply {
	int code; /* 200-599; 0 when no reply came (connection failure) */
	char text[SMTPC_TEXT_MAX]; /* "250 2.0.0 Ok ..." or the local reason */
};

struct smtpc_opts {
	const char *host;      /* name or address literal to connect to */
	unsigned port;
	const char *helo;      /* our name for EHLO/HELO */
	enum smtpc_tls tls;
	SSL_CTX *verify_ctx;   /* verifying client context (REQUIRED, pin) */
	SSL_CTX *any_ctx;      /* smtpc_ctx_any_new (OPPORTUNISTIC) */
	const char *tls_name;  /* name to verify; NULL: host */
	const char *pin;       /* "sha256:..." or NULL */
	unsigned timeout;      /* seconds for every step; 0: RFC 5321 timers */
	const char *auth_user; /* AUTH as this user (only under TLS); NULL: none */
	const char *auth_password; /* with auth_user: not empty */
	/* Source addresses (literals) for IPv4 and IPv6 connections; NULL:
	 * the kernel's choice. */
	const char *bind4, *bind6;
	/* DANE: the TLSA base domain (NULL: tls_name), more acceptable
	 * names, and the TLSA records (copied, with their data). */
	const char *dane_base;
	const char *const *dane_names;
	size_t n_dane_names;
	const struct tls_tlsa *tlsa;
	size_t n_tlsa;
	/* OPPORTUNISTIC: check the certificate without enforcing it. */
	bool tls_check;
};

/* What TLS came to in a session (smtpc_tls_outcome). */
enum smtpc_tlso {
	SMTPC_TLSO_NONE = 0,     /* not (yet) tried: TLS none, or an earlier
				  * failure */
	SMTPC_TLSO_NOT_OFFERED,  /* no STARTTLS in the EHLO reply, or refused */
	SMTPC_TLSO_VERIFIED,     /* up, the certificate verified (REQUIRED,
				  * IMPLICIT, DANE, a pin, a check passed) */
	SMTPC_TLSO_UNVERIFIED,   /* up, the certificate not looked at */
	SMTPC_TLSO_CERT,         /* the certificate failed (the handshake of
				  * a verified mode, or the check) */
	SMTPC_TLSO_HANDSHAKE,    /* the handshake failed otherwise */
};

struct smtpc_msg {
	const char *sender;          /* "" for <> */
	const char *const *rcpts;
	size_t n_rcpts;
	int fd;                      /* the message, read from offset 0 */
	uint64_t size;
	bool eight_bit;              /* BODY=8BITMIME (RFC 6152) */
	bool binary;                 /* BODY=BINARYMIME (RFC 3030) */
	bool smtputf8;               /* SMTPUTF8 (RFC 6531) */
	/* RFC 3461, sent as they are only when the server offers DSN: RET
	 * ("FULL", "HDRS") and ENVID of MAIL, and per recipient NOTIFY and
	 * ORCPT (arrays of n_rcpts, or NULL); NULL or "": none. */
	const char *ret, *envid;
	const char *const *notify, *const *orcpt;
};

struct smtpc_cb {
	/* Ready for smtpc_send, smtpc_command or smtpc_quit. */
	void (*on_ready)(struct smtpc *s, void *arg);
	/* The outcome of smtpc_send: replies[i] is the final reply for
	 * recipient i (valid during the call). */
	void (*on_result)(struct smtpc *s, void *arg,
			  const struct smtpc_reply *replies, size_t n);
	/* The reply to smtpc_command (valid during the call). */
	void (*on_reply)(struct smtpc *s, void *arg,
			 const struct smtpc_reply *reply);
	/* Last event: the session is over and s is freed after the call.
	 * error is NULL after a clean QUIT, else why the session failed
	 * (last holds the reply that failed it, code 0 for none). A message in
	 * flight got its on_result before this. */
	void (*on_close)(struct smtpc *s, void *arg, const char *error,
			 const struct smtpc_reply *last);
};

/* A client context that completes the handshake with any certificate
 * (for opportunistic STARTTLS). Returns it (caller frees) or NULL with a
 * message in err. */
SSL_CTX *smtpc_ctx_any_new(char *err, size_t errlen);

/* Start a session (copies what it needs from opts). Returns the session or
 * NULL (errno; EINVAL: auth_user without a password). on_close is called
 * exactly once afterwards. */
struct smtpc *smtpc_start(struct ev_loop *loop, struct worker *pool,
			  const struct smtpc_opts *opts,
			  const struct smtpc_cb *cb, void *arg);

/* Send one message (after on_ready). The strings and the fd must stay valid
 * until on_result. Returns 0, or -1 (EINVAL: not ready or no recipient). */
int smtpc_send(struct smtpc *s, const struct smtpc_msg *msg);

/* Send one command line (without CRLF; after on_ready). mask_trace hides
 * its argument in the debug log (AUTH). Returns 0 or -1 (EINVAL). */
int smtpc_command(struct smtpc *s, const char *line, bool mask_trace);

/* Say QUIT (after on_ready) and close; on_close follows with error NULL. */
void smtpc_quit(struct smtpc *s);

/* Abort at any time: close at once; on_close follows with an error. */
void smtpc_abort(struct smtpc *s, const char *why);

/* Facts after on_ready: TLS active; the peer's address; EHLO keywords
 * (those the client uses, DSN among them). */
bool smtpc_tls_active(const struct smtpc *s);
/* Any time, also during on_close: the outcome and (CERT, VERIFIED) the
 * X509_V_* result into *verify_r (may be NULL; -1 when unknown). */
enum smtpc_tlso smtpc_tls_outcome(const struct smtpc *s, long *verify_r);
const char *smtpc_peer(const struct smtpc *s);
bool smtpc_has_ext(const struct smtpc *s, const char *keyword);

#endif
