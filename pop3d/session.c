/* pop3d/session.c: POP3 session lifecycle: greeting, status lines,
 * continuations (LIST, UIDL, RETR/TOP) driven by drain callbacks, login and
 * UPDATE completions, shutdown and the session-end log line. The commands
 * that drive it are pop3d/commands.c. */
#include "autoconf.h"

#include "pop3d/session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "store/maildrop.h"

/* Status lines are at most 512 octets with CRLF (RFC 1939 §3). */
#define POP3_REPLY_MAX 512
/* LIST/UIDL lines queued per step before looking at the output again. */
#define POP3_LINES_PER_STEP 128

static void set_state(struct pop3_session *s, enum pop3_state state);
static int cont_run(struct pop3_session *s);
static int cont_step_lines(struct pop3_session *s);
static int cont_step_retr(struct pop3_session *s);
static void cont_end(struct pop3_session *s);
static ssize_t reader_read(void *src, void *buf, size_t len);
static void clear_user(struct pop3_session *s);

static const char *const state_names[] = {
	"AUTHORIZATION", "TRANSACTION", "UPDATE",
};

struct pop3_session *pop3_session_new(const struct pop3_ops *ops, void *env,
				      const struct pop3_session_cfg *cfg)
{
	struct pop3_session *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->ops = ops;
	s->env = env;
	s->state = POP3_AUTHORIZATION;
	snprintf(s->id, sizeof s->id, "%s", cfg->id ? cfg->id : "-");
	snprintf(s->peer, sizeof s->peer, "%s", cfg->peer ? cfg->peer : "-");
	if (cfg->tls_active)
		s->flags |= POP3_F_TLS;
	else if (cfg->tls_available)
		s->flags |= POP3_F_TLS_OFFER;
	if (cfg->plaintext_ok)
		s->flags |= POP3_F_PLAIN_OK;
	proto_bad_init(&s->bad, cfg->bad_command_limit);
	s->high_water = cfg->high_water ? cfg->high_water
					: CONN_DEFAULT_HIGH_WATER;
	return s;
}

static void set_state(struct pop3_session *s, enum pop3_state state)
{
	log_debug("%s state %s -> %s", s->id, state_names[s->state],
		  state_names[state]);
	s->state = state;
}

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	char line[POP3_REPLY_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, POP3_REPLY_MAX - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > POP3_REPLY_MAX - 2)
		n = POP3_REPLY_MAX - 2;
	line[n++] = '\r';
	line[n++] = '\n';
	(void)s->ops->write(s->env, line, (size_t)n);
}

void pop3_session_greet(struct pop3_session *s)
{
	/* RFC 1939 §4. No "<...>" timestamp: APOP is not offered, and
	 * clients look for one to decide to use it. */
	pop3_reply(s, "+OK kantorpos POP3 server ready");
}

/* Continuations. */

static ssize_t reader_read(void *src, void *buf, size_t len)
{
	return mdrop_read(src, buf, len);
}

int pop3_cont_start(struct pop3_session *s, enum pop3_cont kind)
{
	int rc;

	s->cont = kind;
	if (kind == POP3_CONT_RETR)
		pop3_stream_init(&s->stream, reader_read, s->reader);
	rc = cont_run(s);
	if (rc != PROTO_ASYNC)
		return rc;
	s->flags |= POP3_F_BUSY;
	s->ops->pause(s->env);
	s->ops->request_drain(s->env);
	return PROTO_ASYNC;
}

/* Write while there is room. Returns PROTO_DONE when the continuation
 * ended, PROTO_ASYNC when it waits for room, PROTO_CLOSE on a read
 * error (the reply cannot be completed). */
static int cont_run(struct pop3_session *s)
{
	while (s->cont != POP3_CONT_NONE) {
		int rc;

		if (s->ops->output_pending(s->env) >= s->high_water)
			return PROTO_ASYNC;
		rc = s->cont == POP3_CONT_RETR ? cont_step_retr(s)
					       : cont_step_lines(s);
		if (rc == PROTO_CLOSE)
			return rc;
	}
	return PROTO_DONE;
}

/* One step of LIST or UIDL without an argument: up to a fixed number of
 * "n size" / "n uid" lines for the messages not marked deleted. */
static int cont_step_lines(struct pop3_session *s)
{
	size_t count = mdrop_count(s->drop);
	unsigned lines = 0;

	while (s->cont_next < count && lines < POP3_LINES_PER_STEP) {
		size_t i = s->cont_next++;

		if (mdrop_is_deleted(s->drop, i))
			continue;
		if (s->cont == POP3_CONT_LIST)
			pop3_reply(s, "%zu %llu", i + 1,
				   (unsigned long long)mdrop_size(s->drop, i));
		else
			pop3_reply(s, "%zu %s", i + 1, mdrop_uidl(s->drop, i));
		lines++;
	}
	if (s->cont_next >= count) {
		(void)s->ops->write(s->env, ".\r\n", 3);
		cont_end(s);
	}
	return PROTO_DONE;
}

static int cont_step_retr(struct pop3_session *s)
{
	char buf[POP3_CHUNK];
	size_t n;
	int rc = pop3_stream_fill(&s->stream, buf, sizeof buf, &n);

	if (rc < 0) {
		/* The status line and part of the message are out: the
		 * client can only tell by the connection closing. */
		log_warn("%s user=%s read error during RETR/TOP", s->id,
			 s->login ? s->login : "-");
		cont_end(s);
		s->flags |= POP3_F_CLOSING;
		return PROTO_CLOSE;
	}
	if (n > 0)
		(void)s->ops->write(s->env, buf, n);
	if (rc == 0) {
		if (s->retr_whole)
			s->retrieved++;
		s->bytes += s->stream.bytes;
		cont_end(s);
	}
	return PROTO_DONE;
}

static void cont_end(struct pop3_session *s)
{
	if (s->reader != NULL) {
		mdrop_reader_close(s->reader);
		s->reader = NULL;
	}
	s->cont = POP3_CONT_NONE;
	s->cont_next = 0;
}

void pop3_session_drain(struct pop3_session *s)
{
	int rc;

	if (!(s->flags & POP3_F_BUSY) || s->cont == POP3_CONT_NONE)
		return;
	rc = cont_run(s);
	if (rc == PROTO_ASYNC) {
		s->ops->request_drain(s->env);
		return;
	}
	s->flags &= ~POP3_F_BUSY;
	if (rc == PROTO_CLOSE) {
		s->ops->close(s->env);
		return;
	}
	s->ops->resume(s->env);
}

/* Login. */

static void clear_user(struct pop3_session *s)
{
	free(s->user);
	s->user = NULL;
	s->flags &= ~POP3_F_USER;
}

int pop3_login_start(struct pop3_session *s, const char *mech,
		     const char *user, const char *pw, size_t pwlen)
{
	s->flags |= POP3_F_BUSY;
	s->ops->pause(s->env);
	s->ops->login(s->env, mech, user, pw, pwlen);
	return PROTO_ASYNC;
}

void pop3_session_login_done(struct pop3_session *s,
			     enum pop3_login_result result, struct mdrop *drop,
			     const char *user)
{
	s->flags &= ~POP3_F_BUSY;
	/* RFC 1939 §7: after a failed PASS the USER is gone too. */
	clear_user(s);
	if (s->flags & POP3_F_CLOSING) {
		/* The server is stopping: no session starts now. */
		mdrop_release(drop);
		pop3_reply(s, "-ERR [SYS/TEMP] server shutting down, nothing "
			   "was changed");
		s->ops->close(s->env);
		return;
	}
	switch (result) {
	case POP3_LOGIN_OK:
		s->drop = drop;
		free(s->login);
		s->login = strdup(user ? user : "-");
		set_state(s, POP3_TRANSACTION);
		{
			size_t n;
			uint64_t bytes;

			mdrop_stat(drop, &n, &bytes);
			pop3_reply(s, "+OK maildrop locked and ready, %zu "
				   "messages (%llu octets)", n,
				   (unsigned long long)bytes);
		}
		break;
	case POP3_LOGIN_FAIL:
		/* RFC 3206 §5: the same text for an unknown user and a wrong
		 * password. */
		pop3_reply(s, "-ERR [AUTH] invalid user name or password");
		break;
	case POP3_LOGIN_THROTTLED:
		pop3_reply(s, "-ERR [SYS/TEMP] too many failed logins from "
			   "your address, try again later");
		break;
	case POP3_LOGIN_IN_USE:
		/* RFC 2449 §8.1.2. */
		pop3_reply(s, "-ERR [IN-USE] maildrop is locked by another "
			   "session");
		break;
	case POP3_LOGIN_TEMP:
		pop3_reply(s, "-ERR [SYS/TEMP] cannot open the maildrop now, "
			   "try again later");
		break;
	case POP3_LOGIN_PERM:
		pop3_reply(s, "-ERR [SYS/PERM] the maildrop cannot be opened");
		break;
	}
	if (result != POP3_LOGIN_OK && drop != NULL)
		mdrop_release(drop);
	s->ops->resume(s->env);
}

/* UPDATE (RFC 1939 §6). */

void pop3_session_update_done(struct pop3_session *s, int rc, size_t removed)
{
	s->flags &= ~POP3_F_BUSY;
	s->deleted = removed;
	if (rc == 0)
		pop3_reply(s, "+OK kantorpos POP3 server signing off (%zu "
			   "messages deleted)", removed);
	else
		pop3_reply(s, "-ERR [SYS/TEMP] some deleted messages not "
			   "removed (%zu removed)", removed);
	s->flags |= POP3_F_CLOSING;
	s->ops->close(s->env);
}

void pop3_session_tls_ready(struct pop3_session *s)
{
	/* RFC 2595 §4: the client forgets what it learnt before TLS, and so
	 * does the server: a USER from before the handshake is dropped. */
	s->flags |= POP3_F_TLS;
	s->flags &= ~(POP3_F_TLS_OFFER | POP3_F_SASL_WAIT);
	clear_user(s);
}

void pop3_session_shutdown(struct pop3_session *s)
{
	if (s->flags & POP3_F_CLOSING)
		return;
	s->flags |= POP3_F_CLOSING;
	if (s->cont != POP3_CONT_NONE) {
		/* In the middle of a multi-line reply an -ERR line would be
		 * taken for message text: just close. */
		s->ops->close(s->env);
		return;
	}
	/* A login or UPDATE in flight answers first (login_done and
	 * update_done see CLOSING and close). */
	if (s->flags & POP3_F_BUSY)
		return;
	pop3_reply(s, "-ERR [SYS/TEMP] server shutting down, nothing was "
		   "changed");
	s->ops->close(s->env);
}

bool pop3_session_secret_next(const struct pop3_session *s)
{
	return (s->flags & POP3_F_SASL_WAIT) != 0;
}

void pop3_session_free(struct pop3_session *s)
{
	if (s == NULL)
		return;
	cont_end(s);
	if (s->drop != NULL)
		mdrop_release(s->drop);
	if (s->login != NULL)
		log_info("%s session end user=%s client=%s retrieved=%lu "
			 "deleted=%lu bytes=%llu%s", s->id, s->login, s->peer,
			 s->retrieved, s->deleted,
			 (unsigned long long)s->bytes,
			 s->updated ? "" : " update=no");
	else
		log_info("%s session end client=%s (no login)", s->id,
			 s->peer);
	clear_user(s);
	free(s->login);
	free(s);
}
