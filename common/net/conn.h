/* common/net/conn.h: one buffered connection over libev, the only code in
 * kantorpos that reads, writes or calls SSL_* on a socket.
 *
 * A conn owns its non-blocking fd, a read and a write ev_io, an idle
 * ev_timer, an input and an output buffer and, once TLS is on, its SSL.
 * The owner (an SMTP or POP3 session, the outbound client, the fetcher)
 * gets events through struct conn_cb and never touches the fd.
 *
 * Rules:
 * - Callbacks come only from the event loop, never from inside a conn_*
 *   call, so the owner's state is never re-entered.
 * - conn_close is deferred and safe anywhere, including inside callbacks:
 *   the conn is freed after the current callback returns (or on the next
 *   loop iteration when called outside one). on_close is then called
 *   exactly once; that is where the owner frees its own state.
 * - Input: in line mode (the default) on_readable fires when a complete
 *   line (or an overlong-line event) is buffered; in raw mode whenever
 *   bytes are buffered. Lines longer than the maximum are reported once
 *   with CONN_LINE_OVERLONG and the rest up to the next LF is discarded:
 *   never truncated silently, never buffered without bound.
 * - Output above the high-water mark pauses input (back-pressure) until
 *   it drains below the low mark; then on_drain fires.
 * - STARTTLS/STLS: conn_start_tls flushes the pending plaintext reply,
 *   discards buffered plaintext input (CVE-2011-0411) and handshakes.
 *
 * Idle footprint: buffers are allocated when data arrives or is queued and
 * freed as soon as they are empty, so an idle plain connection costs
 * sizeof(struct conn) (about 620 bytes on x86-64, four libev watchers
 * included) plus the kernel socket; an idle TLS connection adds OpenSSL's
 * per-connection state (a few KB; its record buffers are released while
 * idle, SSL_MODE_RELEASE_BUFFERS). While input is being read the input
 * buffer is max_line + 16 KiB; output grows with what is queued.
 *
 * The process must ignore SIGPIPE: OpenSSL writes with write(2). */
#ifndef KANTORPOS_COMMON_CONN_H
#define KANTORPOS_COMMON_CONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <ev.h>
#include <openssl/ssl.h>

struct conn;
struct tls_dane;

/* Default maximum line length, terminator included. */
#define CONN_DEFAULT_MAX_LINE 4096
/* Default output watermarks (bytes queued). */
#define CONN_DEFAULT_HIGH_WATER (64 * 1024)
#define CONN_DEFAULT_LOW_WATER (16 * 1024)
/* Hard cap on queued output: conn_write fails beyond it (ENOBUFS). */
#define CONN_OUT_MAX (16 * 1024 * 1024)

/* Flags of a returned line. */
enum conn_line_flag {
	CONN_LINE_CRLF = 1 << 0,     /* ended in CRLF (else a bare LF) */
	CONN_LINE_BARE_CR = 1 << 1,  /* a CR not followed by LF inside it */
	CONN_LINE_NUL = 1 << 2,      /* a NUL byte inside it */
	CONN_LINE_OVERLONG = 1 << 3, /* longer than the maximum: data is the
				      * first max-1 bytes; the rest up to the
				      * next LF is discarded */
};

struct conn_line {
	char *data;     /* NUL-terminated, terminator (LF or CRLF) removed */
	size_t len;     /* bytes before the terminator (data may hold NULs) */
	unsigned flags; /* enum conn_line_flag bits */
};

enum conn_close_reason {
	CONN_CLOSE_LOCAL,   /* the owner called conn_close */
	CONN_CLOSE_EOF,     /* the peer closed the connection */
	CONN_CLOSE_ERROR,   /* read/write error (detail has strerror) */
	CONN_CLOSE_TLS,     /* handshake, verification or TLS record error */
	CONN_CLOSE_TIMEOUT, /* idle timeout and no on_timeout callback */
	CONN_CLOSE_CONNECT, /* an outgoing connect failed */
};

/* Events for the owner; any member may be NULL. arg is the owner's. */
struct conn_cb {
	/* Input is waiting: call conn_next_line (or conn_read_raw) until it
	 * returns 0, or until the owner pauses, closes or starts TLS. */
	void (*on_readable)(struct conn *c, void *arg);
	/* Output fell to the low-water mark after back-pressure, or after
	 * conn_request_drain: "there is room, queue more". */
	void (*on_drain)(struct conn *c, void *arg);
	/* The idle timer expired. The owner replies (e.g. SMTP 421) and
	 * closes. When NULL the conn closes with CONN_CLOSE_TIMEOUT. */
	void (*on_timeout)(struct conn *c, void *arg);
	/* An outgoing connect completed. */
	void (*on_connected)(struct conn *c, void *arg);
	/* A TLS handshake completed (and, for a client, the peer was
	 * verified). */
	void (*on_tls_ready)(struct conn *c, void *arg);
	/* Last event: the conn is about to be freed. detail is readable text
	 * for the log (never NULL). Only the conn_peer/conn_tls_* getters may
	 * be used on c here. */
	void (*on_close)(struct conn *c, void *arg,
			 enum conn_close_reason reason, const char *detail);
};

/* Wrap an accepted or connected socket. fd becomes non-blocking and is
 * owned (closed) by the conn. No timeout is set. Returns the conn or NULL
 * (errno; fd is left open then). */
struct conn *conn_new(struct ev_loop *loop, int fd, const struct conn_cb *cb,
		      void *arg);

/* Start a non-blocking connect to sa. The result comes as on_connected or
 * on_close(CONN_CLOSE_CONNECT). Returns the conn or NULL (errno). Resolve
 * names first with net_resolve on a worker thread. */
struct conn *conn_connect(struct ev_loop *loop, const struct sockaddr *sa,
			  socklen_t salen, const struct conn_cb *cb, void *arg);

/* conn_connect from the source address src (its port 0: the kernel picks
 * one at connect time); src NULL is conn_connect. A bind that fails
 * (EADDRNOTAVAIL: not an address of this host) returns NULL. */
struct conn *conn_connect_from(struct ev_loop *loop, const struct sockaddr *sa,
			       socklen_t salen, const struct sockaddr *src,
			       socklen_t srclen, const struct conn_cb *cb,
			       void *arg);

/* Settings. Timeout in seconds, 0 for none; the timer restarts on every
 * complete line (line mode) or any input (raw mode), and does not run
 * while input is paused by the owner. max_line counts the terminator and
 * must be at least 3. low must be below high. */
void conn_set_timeout(struct conn *c, double seconds);
void conn_set_max_line(struct conn *c, size_t max_line);
void conn_set_watermarks(struct conn *c, size_t high, size_t low);
/* Raw mode on or off; switching only changes how further input is cut. */
void conn_set_raw(struct conn *c, bool raw);

/* Next complete line. Returns 1 with *line_r (data valid until control
 * returns to the event loop), or 0 when no complete line is buffered, or
 * input is paused (by the owner or by back-pressure), or the conn is
 * closing or upgrading to TLS, or in raw mode. Never blocks. */
int conn_next_line(struct conn *c, struct conn_line *line_r);

/* Take up to max buffered bytes as they came. Returns the count (0 when
 * none, or paused as for conn_next_line) with *data_r pointing at them
 * (valid until control returns to the event loop).
 * A pending overlong-line discard is cancelled: raw bytes are exact. */
size_t conn_read_raw(struct conn *c, const char **data_r, size_t max);

/* Give back the last n bytes of the latest conn_read_raw (n at most what
 * it returned), before control returns to the event loop. They are read
 * again, as lines or raw, after what was taken before them. */
void conn_unread_raw(struct conn *c, size_t n);

/* Bytes of input buffered and not yet taken. */
size_t conn_input_pending(const struct conn *c);

/* Stop and restart reading input (e.g. while a worker runs a job for the
 * session). Buffered lines are delivered again by a fresh on_readable
 * after resume. Pausing also stops the idle timer. */
void conn_pause_input(struct conn *c);
void conn_resume_input(struct conn *c);

/* Queue output. Never blocks; the bytes go out from the loop. Returns 0,
 * or -1 when closing (EPIPE) or above CONN_OUT_MAX (ENOBUFS). */
int conn_write(struct conn *c, const void *data, size_t len);
int conn_printf(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int conn_vprintf(struct conn *c, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Bytes queued and not yet written to the socket (or to TLS). */
size_t conn_output_pending(const struct conn *c);

/* Ask for one on_drain as soon as output is at or below the low mark
 * (on the next loop iteration if it already is). */
void conn_request_drain(struct conn *c);

/* Server-side TLS. Implicit TLS: call right after conn_new. STARTTLS/STLS:
 * queue the "220 ready"/"+OK" reply first, then call this: the reply goes
 * out in plaintext, every plaintext byte already buffered is discarded
 * (the count into *discarded_r, may be NULL) and the handshake follows.
 * Completion: on_tls_ready; failure: on_close(CONN_CLOSE_TLS).
 * Returns 0, or -1 (TLS already on, closing, or SSL_new failed). */
int conn_start_tls(struct conn *c, SSL_CTX *ctx, size_t *discarded_r);

/* Client-side TLS, implicit or after the owner's STARTTLS/STLS and its
 * positive reply. host is the expected name (checked against the
 * certificate, and sent as SNI); pin, when not NULL, a fingerprint
 * "sha256:AB:..." that replaces CA verification. Buffered plaintext is
 * discarded and counted as for the server (a server that sends bytes after
 * its reply is attacking: the caller may close when *discarded_r > 0).
 * Returns 0, or -1 (bad pin string, TLS already on, SSL setup failed). */
int conn_start_tls_client(struct conn *c, SSL_CTX *ctx, const char *host,
			  const char *pin, size_t *discarded_r);

/* Client-side TLS verified by DANE (tls_client_prepare_dane, common/net/
 * tls.h; d is used during the call only): a certificate that matches no
 * usable record fails the handshake (on_close(CONN_CLOSE_TLS), "TLS
 * handshake: certificate verification failed: ..."). Otherwise as
 * conn_start_tls_client. Returns 0, or -1 with the reason in err. */
int conn_start_tls_dane(struct conn *c, SSL_CTX *ctx,
			const struct tls_dane *d, size_t *discarded_r,
			char *err, size_t errlen);

/* The certificate verification of a client handshake: X509_V_OK once a
 * verifying handshake completed (or a failed one failed for another
 * reason), else the X509_V_ERR_* that failed it — also during on_close.
 * -1 before any client handshake. */
long conn_tls_verify_result(const struct conn *c);

/* After on_tls_ready of an unverified client handshake: the peer checked
 * against trust and host without failing anything (tls_verify_peer,
 * common/net/tls.h). X509_V_ERR_UNSPECIFIED without TLS. */
long conn_tls_check_peer(struct conn *c, SSL_CTX *trust, const char *host);

/* Close now: queued output is given one non-blocking write attempt (and
 * TLS a close_notify), then the conn is freed after the current callback
 * (see the rules above). reason text goes to on_close as detail; NULL is
 * fine. Repeated calls are ignored. */
void conn_close(struct conn *c, const char *reason);

/* Stop reading and close once the queued output is written (or fails, or
 * the idle timer expires): for a final "221"/"+OK" reply. */
void conn_close_after_flush(struct conn *c, const char *reason);

/* True once conn_close/conn_close_after_flush was called or the conn is
 * shutting down for any reason. */
bool conn_is_closing(const struct conn *c);

/* The peer's numeric address ("127.0.0.1", "::1"). */
const char *conn_peer(const struct conn *c);

/* TLS facts: active once the handshake completed; protocol ("TLSv1.3")
 * and cipher names for logs and Received headers (NULL without TLS). */
bool conn_tls_active(const struct conn *c);
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);

#endif
