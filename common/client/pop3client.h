/* common/client/pop3client.h: the POP3 client of kantorpos (RFC 1939, CAPA from
 * RFC 2449, STLS from RFC 2595, AUTH PLAIN from RFC 5034), non-blocking on
 * one libev loop through common/conn.
 *
 * pop3c_connect opens the session and logs in by itself: implicit TLS or
 * STLS (both verify the server: CA and host name, or a pinned
 * fingerprint), CAPA, then AUTH PLAIN, USER/PASS or APOP. Only then does
 * the owner get on_ready and send commands: one at a time, or up to
 * POP3C_WINDOW in flight when the server announced PIPELINING (RFC 2449
 * section 6.6). Each is answered, in order, by a callback with the status
 * and, for multi-line replies, the whole un-stuffed body, or (streamed
 * replies) the body in chunks as it arrives, or (listings) the body line
 * by line, each line bounded so that one huge line costs nothing. The session ends with exactly
 * one on_closed, after which the client is freed; nothing is ever written
 * to disk here.
 *
 * Safety: with TLS required, no credential is sent before the handshake
 * and verification succeeded; a server that sends bytes after its +OK to
 * STLS is treated as an attack (CVE-2011-0411 pattern) and the session is
 * dropped. */
#ifndef KANTORPOS_COMMON_POP3CLIENT_H
#define KANTORPOS_COMMON_POP3CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct ev_loop;
struct pop3c;

enum pop3c_tls {
	POP3C_TLS_IMPLICIT, /* TLS from the first byte (port 995) */
	POP3C_TLS_STLS,     /* STLS required before login (port 110) */
	POP3C_TLS_NONE,     /* no TLS at all: the caller allowed plaintext */
};

enum pop3c_auth {
	POP3C_AUTH_ANY,   /* AUTH PLAIN when CAPA lists SASL PLAIN, else USER */
	POP3C_AUTH_PLAIN, /* AUTH PLAIN with an initial response */
	POP3C_AUTH_USER,  /* USER and PASS */
	POP3C_AUTH_APOP,  /* APOP with the greeting's timestamp */
};

/* Commands in flight at most when the server offers PIPELINING. */
#define POP3C_WINDOW 8

/* Longest status line accepted (RFC 2449 section 4 allows 512 octets). */
#define POP3C_STATUS_MAX 1024

struct pop3c_params {
	const char *host;     /* server name: checked against its certificate */
	enum pop3c_tls tls;
	SSL_CTX *ctx;         /* client context; unused with POP3C_TLS_NONE */
	const char *pin;      /* "sha256:..." replacing CA checks, or NULL */
	enum pop3c_auth auth;
	const char *user;     /* copied */
	const char *password; /* copied; wiped when the client is freed */
	double timeout;       /* seconds without progress; 0: none */
	const char *log_id;   /* prefix of debug trace lines (copied) */
};

struct pop3c_cb {
	/* Logged in: the TRANSACTION state; send commands now. */
	void (*on_ready)(struct pop3c *c, void *arg);
	/* The session is over. clean is true only after a +OK to QUIT;
	 * why is readable text for the log. c is freed after this returns. */
	void (*on_closed)(struct pop3c *c, void *arg, bool clean,
			  const char *why);
};

/* Reply to one command: ok for +OK, the status text after the indicator,
 * and for a successful multi-line command the un-stuffed body (CRLF line
 * ends as sent, the final "." line removed; valid during the call only). */
typedef void pop3c_reply_fn(struct pop3c *c, void *arg, bool ok,
			    const char *text, const char *body, size_t len);

/* A chunk of a streamed multi-line body, un-stuffed (valid during the
 * call only). Return 0 to go on, or -1 to drop the session (the caller
 * may also call pop3c_close itself). */
typedef int pop3c_data_fn(struct pop3c *c, void *arg, const char *data,
			  size_t len);

/* Connect to sa and log in. Non-blocking: the outcome comes as on_ready or
 * on_closed. Returns the client, or NULL with errno (no callback then). */
struct pop3c *pop3c_connect(struct ev_loop *loop, const struct sockaddr *sa,
			    socklen_t salen, const struct pop3c_params *p,
			    const struct pop3c_cb *cb, void *arg);

/* Send one command line (without CRLF) after on_ready. multiline: the
 * reply to +OK is a multi-line body (LIST, UIDL, RETR, TOP), at most
 * max_body bytes after un-stuffing (larger: the session is dropped).
 * fn gets the reply once it is complete. After the reply to QUIT the
 * client closes by itself. Returns 0, or -1 when the window is full
 * (EBUSY: see pop3c_room), the session is closing or QUIT was sent
 * (EPIPE), or the line holds CR or LF (EINVAL). */
int pop3c_command(struct pop3c *c, const char *line, bool multiline,
		  size_t max_body, pop3c_reply_fn *fn, void *arg);

/* As pop3c_command for a multi-line command whose body is streamed:
 * after +OK, data_fn gets the un-stuffed body chunk by chunk as it
 * arrives (no size limit here: the reader enforces its own), then fn
 * gets the status with an empty body. After -ERR only fn is called. */
int pop3c_command_stream(struct pop3c *c, const char *line,
			 pop3c_data_fn *data_fn, pop3c_reply_fn *fn,
			 void *arg);

/* One line of a listing (LIST, UIDL), un-stuffed, without its line end.
 * overlong: the line was longer than the limit; line holds only its first
 * max_line octets and the rest was dropped. Return 0 to go on, -1 to drop
 * the session. */
typedef int pop3c_line_fn(void *arg, const char *line, size_t len,
			  bool overlong);

/* As pop3c_command for a multi-line listing read line by line: after +OK
 * each line goes to line_fn as it arrives (memory: one line of max_line
 * octets, whatever the size of the listing), then fn gets the status with
 * an empty body. An overlong line does not end the session: the owner
 * decides (RFC 2449 section 4 bounds response lines at 512 octets). */
int pop3c_command_lines(struct pop3c *c, const char *line, size_t max_line,
			pop3c_line_fn *line_fn, pop3c_reply_fn *fn, void *arg);

/* How many more commands may be sent now without waiting for a reply:
 * POP3C_WINDOW minus those in flight with PIPELINING, else 1 or 0; 0
 * also before on_ready, after QUIT and while closing. */
size_t pop3c_room(const struct pop3c *c);

/* Drop the session without QUIT (the server then applies no DELE, RFC
 * 1939 section 6). on_closed follows from the loop. Safe in callbacks;
 * repeated calls are ignored. */
void pop3c_close(struct pop3c *c, const char *why);

/* The line splitter of pop3c_command_lines, exposed for tests: feed
 * un-stuffed bytes in chunks of any size; fn gets each complete line (LF
 * or CRLF removed; at most max octets, overlong set when there were more).
 * pop3c_lines_end gives a last line that had no line end. Both return 0,
 * or -1 when fn did (the rest of the chunk is not read). */
struct pop3c_lines {
	char *buf; /* max octets, allocated by pop3c_lines_init */
	size_t len, max;
	bool overlong;
};
int pop3c_lines_init(struct pop3c_lines *l, size_t max);
int pop3c_lines_feed(struct pop3c_lines *l, const char *in, size_t n,
		     pop3c_line_fn *fn, void *arg);
int pop3c_lines_end(struct pop3c_lines *l, pop3c_line_fn *fn, void *arg);
void pop3c_lines_free(struct pop3c_lines *l);

#endif
