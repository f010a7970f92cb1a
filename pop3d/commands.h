/* pop3d/commands.h: what session.c and commands.c share inside pop3d: the
 * per-state command table, the AUTH PLAIN continuation, and the reply and
 * continuation helpers the handlers use. Not an interface for other
 * modules. */
#ifndef KANTORPOS_POP3D_COMMANDS_H
#define KANTORPOS_POP3D_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/proto/proto.h"
#include "pop3d/session.h"

/* The command table (common/proto/proto.h), ending with a NULL verb. */
extern const struct proto_cmd pop3_commands[];

/* The line after "AUTH PLAIN" and "+ ": the base64 response, or "*" to
 * cancel (RFC 5034 §4). line is writable and wiped here. Returns a
 * proto_outcome. */
int pop3_sasl_response(struct pop3_session *s, char *line, size_t len);

/* May USER/PASS and AUTH PLAIN be used now (TLS on, or the listener is
 * plaintext-ok; RFC 2595 §2.3)? */
bool pop3_plain_allowed(const struct pop3_session *s);

/* Queue one status line; CRLF is appended and the line is kept within the
 * 512 octets of RFC 2449 §4. */
void pop3_reply(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Count a bad command and answer it with text ("-ERR ..."). Returns
 * PROTO_DONE, or PROTO_CLOSE once the bad-command limit is reached. */
int pop3_bad(struct pop3_session *s, const char *text);

/* Start a multi-line continuation whose status line is already queued
 * (s->cont_next, s->reader and s->stream set up as the kind needs). Runs
 * it as far as the output allows. Returns PROTO_DONE when it completed,
 * PROTO_ASYNC when it waits for a drain (input paused), PROTO_CLOSE when a
 * read failed mid-reply. */
int pop3_cont_start(struct pop3_session *s, enum pop3_cont kind);

/* Ask for a login (USER/PASS: mech "USER", or AUTH PLAIN: "PLAIN"):
 * pause input and call ops->login. Returns PROTO_ASYNC. */
int pop3_login_start(struct pop3_session *s, const char *mech,
		     const char *user, const char *pw, size_t pwlen);

#endif
