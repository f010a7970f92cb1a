/* pop3d/commands.c: the POP3 commands (RFC 1939, CAPA RFC 2449, STLS RFC
 * 2595, AUTH PLAIN RFC 5034): an input line checked and dispatched through
 * the command table, and the handlers. A handler checks its arguments,
 * does the command's work on the session and its maildrop, queues the
 * reply and returns a proto_outcome; it never touches the connection. */
#include "autoconf.h"

#include "pop3d/commands.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/base/log.h"
#include "common/proto/sasl.h"
#include "store/maildrop.h"

#define A PROTO_STATE(POP3_AUTHORIZATION)
#define T PROTO_STATE(POP3_TRANSACTION)

static int cmd_capa(void *v, char *args);
static int cmd_quit_auth(void *v, char *args);
static int cmd_quit_trans(void *v, char *args);
static int cmd_user(void *v, char *args);
static int cmd_pass(void *v, char *args);
static int cmd_auth(void *v, char *args);
static int cmd_apop(void *v, char *args);
static int cmd_stls(void *v, char *args);
static int cmd_stat(void *v, char *args);
static int cmd_list(void *v, char *args);
static int cmd_uidl(void *v, char *args);
static int cmd_retr(void *v, char *args);
static int cmd_top(void *v, char *args);
static int cmd_dele(void *v, char *args);
static int cmd_rset(void *v, char *args);
static int cmd_noop(void *v, char *args);
static int cmd_last(void *v, char *args);
static int msg_arg(struct pop3_session *s, char *args, bool only,
		   char **rest_r, size_t *index_r);
static int one_message(struct pop3_session *s, enum pop3_cont kind,
		       size_t i);
static int start_reader(struct pop3_session *s, size_t i, long long lines);
static int sasl_plain(struct pop3_session *s, char *b64, size_t len);
static bool plain_allowed(const struct pop3_session *s);

static const struct proto_cmd commands[] = {
	{ "CAPA", A | T, cmd_capa, PROTO_CMD_NO_ARG },
	{ "QUIT", A, cmd_quit_auth, PROTO_CMD_NO_ARG },
	{ "QUIT", T, cmd_quit_trans, PROTO_CMD_NO_ARG },
	{ "USER", A, cmd_user, PROTO_CMD_NEEDS_ARG },
	{ "PASS", A, cmd_pass, 0 },
	{ "AUTH", A, cmd_auth, PROTO_CMD_NEEDS_ARG },
	{ "APOP", A, cmd_apop, 0 },
	{ "STLS", A, cmd_stls, PROTO_CMD_NO_ARG },
	{ "STAT", T, cmd_stat, PROTO_CMD_NO_ARG },
	{ "LIST", T, cmd_list, 0 },
	{ "UIDL", T, cmd_uidl, 0 },
	{ "RETR", T, cmd_retr, PROTO_CMD_NEEDS_ARG },
	{ "TOP", T, cmd_top, PROTO_CMD_NEEDS_ARG },
	{ "DELE", T, cmd_dele, PROTO_CMD_NEEDS_ARG },
	{ "RSET", T, cmd_rset, PROTO_CMD_NO_ARG },
	{ "NOOP", T, cmd_noop, PROTO_CMD_NO_ARG },
	{ "LAST", T, cmd_last, PROTO_CMD_NO_ARG },
	{ NULL, 0, NULL, 0 },
};

/* Count a bad command and answer it with text ("-ERR ..."). Returns
 * PROTO_DONE, or PROTO_CLOSE once the bad-command limit is reached. */
static int bad_command(struct pop3_session *s, const char *text)
{
	if (proto_bad_hit(&s->bad)) {
		pop3_reply(s, "%s; too many bad commands, closing", text);
		s->flags |= POP3_F_CLOSING;
		return PROTO_CLOSE;
	}
	pop3_reply(s, "%s", text);
	return PROTO_DONE;
}

/* A line that cannot be a command: a waiting AUTH PLAIN response is
 * wiped and no longer waited for. */
static int bad_line(struct pop3_session *s, const struct conn_line *line,
		    const char *text)
{
	if (s->flags & POP3_F_SASL_WAIT) {
		s->flags &= ~POP3_F_SASL_WAIT;
		sodium_memzero(line->data, line->len);
	}
	return bad_command(s, text);
}

/* The -ERR line for bytes a line must not carry. */
static void fault_text(char *text, size_t size, enum proto_line_fault fault)
{
	snprintf(text, size, "-ERR %s", proto_line_fault_str(fault));
}

/* proto_dispatch's refusals, in POP3 words. */
static int refuse(void *v, const struct proto_refusal *r)
{
	struct pop3_session *s = v;
	char text[80];

	switch (r->kind) {
	case PROTO_REFUSE_BYTES:
		fault_text(text, sizeof text, r->fault);
		return bad_command(s, text);
	case PROTO_REFUSE_EMPTY:
		return bad_command(s, "-ERR empty command");
	case PROTO_REFUSE_UNKNOWN:
	case PROTO_REFUSE_LENGTH: /* no max_len: never */
		return bad_command(s, "-ERR unknown command");
	case PROTO_REFUSE_STATE:
		return bad_command(s, "-ERR command not valid in this state");
	case PROTO_REFUSE_ARGS:
	default:
		return bad_command(s, (r->cmd->flags & PROTO_CMD_NO_ARG)
				   ? "-ERR this command takes no argument"
				   : "-ERR argument required");
	}
}

static const struct proto_dispatcher dispatcher = { commands, NULL, refuse };

int pop3_session_line(struct pop3_session *s, const struct conn_line *line)
{
	enum proto_line_fault fault;

	if (s->flags & (POP3_F_CLOSING | POP3_F_BUSY))
		return PROTO_DONE;
	/* RFC 2449 §4 allows a server to refuse lines over 255 octets; the
	 * rest of this one was discarded by the reader. */
	if (line->flags & CONN_LINE_OVERLONG)
		return bad_line(s, line, "-ERR line too long");
	if (!(s->flags & POP3_F_SASL_WAIT))
		return proto_dispatch(&dispatcher, s->state, line->data,
				      line->len, s);
	fault = proto_check_line(line->data, line->len, NULL);
	if (fault != PROTO_LINE_OK) {
		char text[80];

		fault_text(text, sizeof text, fault);
		return bad_line(s, line, text);
	}
	s->flags &= ~POP3_F_SASL_WAIT;
	return sasl_plain(s, line->data, line->len);
}

/* May USER/PASS and AUTH PLAIN be used now (TLS on, or the listener is
 * plaintext-ok; RFC 2595 §2.3)? */
static bool plain_allowed(const struct pop3_session *s)
{
	return (s->flags & (POP3_F_TLS | POP3_F_PLAIN_OK)) != 0;
}

/* CAPA (RFC 2449 §5, §6; the set of CONFORMANCE P-APOP-04). */
static int cmd_capa(void *v, char *args)
{
	struct pop3_session *s = v;

	(void)args;
	pop3_reply(s, "+OK capability list follows");
	pop3_reply(s, "TOP");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	/* The server never removes mail by itself (RFC 2449 §6.7). */
	pop3_reply(s, "EXPIRE NEVER");
	/* USER and SASL PLAIN only where they would be accepted (RFC 2595
	 * §2.3, RFC 5034 §3); STLS only before TLS (RFC 2595 §4). */
	if (plain_allowed(s)) {
		pop3_reply(s, "USER");
		pop3_reply(s, "SASL PLAIN");
	}
	if (s->state == POP3_AUTHORIZATION && (s->flags & POP3_F_TLS_OFFER))
		pop3_reply(s, "STLS");
	/* RFC 2449 §6.9: only after login, to say less to strangers. */
	if (s->state == POP3_TRANSACTION)
		pop3_reply(s, "IMPLEMENTATION kantorpos-" PACKAGE_VERSION);
	pop3_reply(s, ".");
	return PROTO_DONE;
}

static int cmd_quit_auth(void *v, char *args)
{
	struct pop3_session *s = v;

	(void)args;
	/* RFC 1939 §4: QUIT in AUTHORIZATION has no UPDATE. */
	pop3_reply(s, "+OK kantorpos POP3 server signing off");
	s->flags |= POP3_F_CLOSING;
	return PROTO_CLOSE;
}

static int cmd_quit_trans(void *v, char *args)
{
	struct pop3_session *s = v;
	struct mdrop *drop = s->drop;
	size_t marked = 0;

	(void)args;
	s->state = POP3_UPDATE;
	s->updated = true;
	s->drop = NULL;
	for (size_t i = 0; i < mdrop_count(drop); i++)
		if (mdrop_is_deleted(drop, i))
			marked++;
	if (marked == 0) {
		mdrop_release(drop);
		pop3_reply(s, "+OK kantorpos POP3 server signing off "
			   "(0 messages deleted)");
		s->flags |= POP3_F_CLOSING;
		return PROTO_CLOSE;
	}
	/* The unlinks and fsyncs run away from the loop; +OK only once
	 * they are done (RFC 1939 §6). */
	s->flags |= POP3_F_BUSY;
	s->ops->pause(s->env);
	s->ops->update(s->env, drop);
	return PROTO_ASYNC;
}

static int cmd_user(void *v, char *args)
{
	struct pop3_session *s = v;
	char *name;

	if (!plain_allowed(s)) {
		/* RFC 2595 §2.3: no plaintext credentials before TLS. */
		pop3_reply(s, "-ERR [AUTH] plaintext login needs TLS; use "
			   "STLS first");
		return PROTO_DONE;
	}
	name = strdup(args);
	if (name == NULL) {
		pop3_reply(s, "-ERR [SYS/TEMP] out of memory");
		return PROTO_DONE;
	}
	/* RFC 1939 §13: the same answer for every name, known or not; a
	 * second USER replaces the first. */
	free(s->user);
	s->user = name;
	s->flags |= POP3_F_USER;
	pop3_reply(s, "+OK send PASS");
	return PROTO_DONE;
}

static int cmd_pass(void *v, char *args)
{
	struct pop3_session *s = v;
	size_t len = strlen(args);
	int rc;

	if (!plain_allowed(s)) {
		sodium_memzero(args, len);
		pop3_reply(s, "-ERR [AUTH] plaintext login needs TLS; use "
			   "STLS first");
		return PROTO_DONE;
	}
	if (!(s->flags & POP3_F_USER)) {
		sodium_memzero(args, len);
		pop3_reply(s, "-ERR send USER first");
		return PROTO_DONE;
	}
	/* RFC 1939 §7: the password is everything after "PASS ", spaces
	 * included. */
	rc = pop3_login_start(s, "USER", s->user, args, len);
	sodium_memzero(args, len);
	return rc;
}

static int cmd_apop(void *v, char *args)
{
	struct pop3_session *s = v;

	(void)args;
	/* APOP needs a plaintext-equivalent secret, which an Argon2id store
	 * does not have; not a credential failure, so no [AUTH]. */
	pop3_reply(s, "-ERR APOP is not supported; use USER/PASS or AUTH "
		   "PLAIN");
	return PROTO_DONE;
}

static int cmd_auth(void *v, char *args)
{
	struct pop3_session *s = v;
	char *cursor = args;
	char *mech = proto_next_word(&cursor);
	char *ir = proto_next_word(&cursor);
	size_t arglen = strlen(cursor);

	if (mech == NULL) {
		pop3_reply(s, "-ERR name a SASL mechanism");
		return PROTO_DONE;
	}
	if (proto_next_word(&cursor) != NULL) {
		sodium_memzero(args, arglen);
		pop3_reply(s, "-ERR syntax: AUTH mechanism [initial-response]");
		return PROTO_DONE;
	}
	if (strcasecmp(mech, "PLAIN") != 0) {
		pop3_reply(s, "-ERR unsupported SASL mechanism");
		return PROTO_DONE;
	}
	if (!plain_allowed(s)) {
		/* RFC 5034 §4 / RFC 8314 §4.1: refused before any check,
		 * with the same answer whatever the credentials. */
		if (ir != NULL)
			sodium_memzero(ir, strlen(ir));
		pop3_reply(s, "-ERR [AUTH] plaintext authentication needs "
			   "TLS; use STLS first");
		return PROTO_DONE;
	}
	if (ir != NULL)
		return sasl_plain(s, ir, strlen(ir));
	/* RFC 5034 §4: an empty challenge is "+ " and nothing else. */
	(void)s->ops->write(s->env, "+ \r\n", 4);
	s->flags |= POP3_F_SASL_WAIT;
	return PROTO_DONE;
}

/* Decode and check a PLAIN response (RFC 4616 §2): authzid NUL authcid
 * NUL passwd; the authzid, when given, must name the same user. "=" is
 * the empty response and "*" cancels (RFC 5034 §4). b64 is wiped. */
static int sasl_plain(struct pop3_session *s, char *b64, size_t len)
{
	char bin[1600];
	size_t blen = 0;
	struct sasl_plain p;
	enum sasl_result r;
	int rc = PROTO_DONE;

	r = sasl_response_decode(b64, len, bin, sizeof bin, &blen);
	sodium_memzero(b64, len);
	if (r == SASL_OK)
		r = blen == 0 ? SASL_MALFORMED
			      : sasl_plain_parse(bin, blen, &p);
	switch (r) {
	case SASL_OK:
		rc = pop3_login_start(s, "PLAIN", p.user, p.pass, p.pass_len);
		break;
	case SASL_CANCEL:
		pop3_reply(s, "-ERR authentication cancelled");
		break;
	case SASL_BAD_BASE64:
		pop3_reply(s, "-ERR invalid base64 data");
		break;
	case SASL_TOO_LONG:
		pop3_reply(s, "-ERR response too long");
		break;
	case SASL_MALFORMED:
	case SASL_AUTHZID:
		/* RFC 3206 §5: a credential problem. */
		pop3_reply(s, "-ERR [AUTH] invalid user name or password");
		break;
	}
	sodium_memzero(bin, sizeof bin);
	return rc;
}

static int cmd_stls(void *v, char *args)
{
	struct pop3_session *s = v;

	(void)args;
	if (s->flags & POP3_F_TLS) {
		pop3_reply(s, "-ERR TLS is already active");
		return PROTO_DONE;
	}
	if (!(s->flags & POP3_F_TLS_OFFER)) {
		pop3_reply(s, "-ERR STLS is not available here");
		return PROTO_DONE;
	}
	pop3_reply(s, "+OK begin TLS negotiation");
	s->flags &= ~POP3_F_TLS_OFFER;
	if (s->ops->start_tls(s->env) < 0) {
		s->flags |= POP3_F_CLOSING;
		return PROTO_CLOSE;
	}
	return PROTO_DONE;
}

/* TRANSACTION. */

static int cmd_stat(void *v, char *args)
{
	struct pop3_session *s = v;
	size_t n;
	uint64_t bytes;

	(void)args;
	mdrop_stat(s->drop, &n, &bytes);
	/* RFC 1939 §5: exactly "+OK count octets". */
	pop3_reply(s, "+OK %zu %llu", n, (unsigned long long)bytes);
	return PROTO_DONE;
}

/* Parse the message-number argument. With only, nothing may follow it;
 * else the rest goes to *rest_r. Replies and returns -1 when the number
 * is bad, out of range or marked deleted. */
static int msg_arg(struct pop3_session *s, char *args, bool only,
		   char **rest_r, size_t *index_r)
{
	char *cursor = args;
	char *word = proto_next_word(&cursor);
	uint64_t n;

	if (word == NULL || (only && proto_next_word(&cursor) != NULL)) {
		pop3_reply(s, "-ERR syntax: a message number is required");
		return -1;
	}
	if (proto_parse_uint(word, UINT64_MAX, &n) < 0 || n == 0 ||
	    n > mdrop_count(s->drop)) {
		pop3_reply(s, "-ERR no such message");
		return -1;
	}
	if (mdrop_is_deleted(s->drop, (size_t)n - 1)) {
		pop3_reply(s, "-ERR message %llu already deleted",
			   (unsigned long long)n);
		return -1;
	}
	if (rest_r != NULL)
		*rest_r = cursor;
	*index_r = (size_t)n - 1;
	return 0;
}

static int one_message(struct pop3_session *s, enum pop3_cont kind, size_t i)
{
	if (kind == POP3_CONT_LIST)
		pop3_reply(s, "+OK %zu %llu", i + 1,
			   (unsigned long long)mdrop_size(s->drop, i));
	else
		pop3_reply(s, "+OK %zu %s", i + 1, mdrop_uidl(s->drop, i));
	return PROTO_DONE;
}

static int cmd_list(void *v, char *args)
{
	struct pop3_session *s = v;
	size_t i, n;
	uint64_t bytes;

	if (*args != '\0') {
		if (msg_arg(s, args, true, NULL, &i) < 0)
			return PROTO_DONE;
		return one_message(s, POP3_CONT_LIST, i);
	}
	mdrop_stat(s->drop, &n, &bytes);
	pop3_reply(s, "+OK %zu messages (%llu octets)", n,
		   (unsigned long long)bytes);
	s->cont_next = 0;
	return pop3_cont_start(s, POP3_CONT_LIST);
}

static int cmd_uidl(void *v, char *args)
{
	struct pop3_session *s = v;
	size_t i;

	if (*args != '\0') {
		if (msg_arg(s, args, true, NULL, &i) < 0)
			return PROTO_DONE;
		return one_message(s, POP3_CONT_UIDL, i);
	}
	pop3_reply(s, "+OK unique-id listing follows");
	s->cont_next = 0;
	return pop3_cont_start(s, POP3_CONT_UIDL);
}

/* Open the reader of message i (lines < 0: whole). Replies on failure. */
static int start_reader(struct pop3_session *s, size_t i, long long lines)
{
	if (mdrop_reader_open(s->drop, i, lines, &s->reader) == 0)
		return 0;
	s->reader = NULL;
	if (errno == ENOENT) {
		pop3_reply(s, "-ERR message %zu is no longer available", i + 1);
	} else {
		log_warn("%s user=%s cannot open message %zu", s->id,
			 s->login ? s->login : "-", i + 1);
		pop3_reply(s, "-ERR [SYS/TEMP] cannot read message %zu", i + 1);
	}
	return -1;
}

static int cmd_retr(void *v, char *args)
{
	struct pop3_session *s = v;
	size_t i;

	if (msg_arg(s, args, true, NULL, &i) < 0 || start_reader(s, i, -1) < 0)
		return PROTO_DONE;
	s->retr_whole = true;
	pop3_reply(s, "+OK %llu octets",
		   (unsigned long long)mdrop_size(s->drop, i));
	return pop3_cont_start(s, POP3_CONT_RETR);
}

static int cmd_top(void *v, char *args)
{
	struct pop3_session *s = v;
	char *rest, *word;
	uint64_t lines;
	size_t i;

	if (msg_arg(s, args, false, &rest, &i) < 0)
		return PROTO_DONE;
	word = proto_next_word(&rest);
	if (word == NULL || proto_next_word(&rest) != NULL) {
		pop3_reply(s, "-ERR syntax: TOP message lines");
		return PROTO_DONE;
	}
	if (proto_parse_uint(word, LLONG_MAX, &lines) < 0) {
		/* A count too large to hold still means "all of it"
		 * (fetchmail asks for 99999999). */
		if (errno != ERANGE) {
			pop3_reply(s, "-ERR syntax: TOP message lines");
			return PROTO_DONE;
		}
		lines = LLONG_MAX;
	}
	if (start_reader(s, i, (long long)lines) < 0)
		return PROTO_DONE;
	s->retr_whole = false;
	pop3_reply(s, "+OK top of message follows");
	return pop3_cont_start(s, POP3_CONT_RETR);
}

static int cmd_dele(void *v, char *args)
{
	struct pop3_session *s = v;
	size_t i;

	if (msg_arg(s, args, true, NULL, &i) < 0)
		return PROTO_DONE;
	/* Only marked: the file goes in UPDATE (RFC 1939 §5, §6). */
	mdrop_set_deleted(s->drop, i, true);
	pop3_reply(s, "+OK message %zu deleted", i + 1);
	return PROTO_DONE;
}

static int cmd_rset(void *v, char *args)
{
	struct pop3_session *s = v;
	size_t n;
	uint64_t bytes;

	(void)args;
	for (size_t i = 0; i < mdrop_count(s->drop); i++)
		mdrop_set_deleted(s->drop, i, false);
	mdrop_stat(s->drop, &n, &bytes);
	pop3_reply(s, "+OK maildrop has %zu messages (%llu octets)", n,
		   (unsigned long long)bytes);
	return PROTO_DONE;
}

static int cmd_noop(void *v, char *args)
{
	struct pop3_session *s = v;

	(void)args;
	pop3_reply(s, "+OK");
	return PROTO_DONE;
}

static int cmd_last(void *v, char *args)
{
	struct pop3_session *s = v;

	(void)args;
	/* RFC 1460's LAST is gone from RFC 1939; fetchmail falls back to
	 * UIDL on a plain -ERR. Not counted as a bad command. */
	pop3_reply(s, "-ERR LAST is obsolete; use UIDL");
	return PROTO_DONE;
}
