/* smtpd/session.c: the SMTP session over its environment (struct
 * smtp_ops): lifecycle, the input loop (command lines, DATA content, BDAT
 * octets), replies and the bad-command count, the protocol trace with AUTH
 * data masked, pause/resume, graceful stop and STARTTLS. */
#include "autoconf.h"

#include "smtpd/session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/base/log.h"
#include "smtpd/reply.h"
#include "store/maildir.h"

/* Content octets taken from the connection at a time: with the parser's
 * slack and the fields the stages add they fit the sinks' 64 KiB buffer
 * (MD_DELIVERY_BUFFER) whole, so that a write into it never touches the
 * disk — the pool empties it first (pipe_tx_reserve). */
#define SMTP_CHUNK_READ 32768

static const char *const STATE_NAMES[SMTP_S_COUNT] = {
	"INIT", "READY", "MAIL", "RCPT", "DATA", "BDAT", "AUTH", "BUSY", "QUIT",
};

static void chunk_done_now(struct smtp_session *s);

struct smtp_session *smtp_session_new(const struct smtp_ops *ops, void *env,
				      const struct smtp_hooks *hooks,
				      const struct smtp_session_cfg *cfg)
{
	struct smtp_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->ops = ops;
	s->env = env;
	s->hooks = hooks;
	s->cfg = cfg->cfg;
	s->lc = cfg->lc;
	snprintf(s->sid, sizeof(s->sid), "%s", cfg->sid);
	snprintf(s->peer, sizeof(s->peer), "%s", cfg->peer);
	proto_bad_init(&s->bad, (unsigned)s->cfg->bad_command_limit);
	return s;
}

const char *smtp_state_name(enum smtp_state state)
{
	return state < SMTP_S_COUNT ? STATE_NAMES[state] : "?";
}

bool smtp_is_submission(const struct smtp_session *s)
{
	return s->lc->role == CONFIG_ROLE_SUBMISSION ||
	       s->lc->role == CONFIG_ROLE_SUBMISSIONS;
}

bool smtp_auth_allowed(const struct smtp_session *s)
{
	return (s->flags & SMTP_F_TLS) || s->lc->plaintext_ok;
}

bool smtp_starttls_offered(const struct smtp_session *s)
{
	return !(s->flags & (SMTP_F_TLS | SMTP_F_CLOSED)) && !s->lc->tls &&
	       s->ops->tls_available(s->env);
}

const char *smtp_tls_version(const struct smtp_session *s)
{
	return s->flags & SMTP_F_CLOSED ? NULL : s->ops->tls_version(s->env);
}

const char *smtp_tls_cipher(const struct smtp_session *s)
{
	return s->flags & SMTP_F_CLOSED ? NULL : s->ops->tls_cipher(s->env);
}

void smtp_set_state(struct smtp_session *s, enum smtp_state state)
{
	if (s->state == state)
		return;
	log_debug("%s state %s -> %s", s->sid, smtp_state_name(s->state),
		  smtp_state_name(state));
	s->state = state;
}

/* Ask the environment to close; the session takes no more input. */
static void close_session(struct smtp_session *s, bool after_flush,
			  const char *reason)
{
	if (s->flags & SMTP_F_CLOSED)
		return;
	s->flags |= SMTP_F_CLOSING;
	s->ops->close(s->env, after_flush, reason);
}

static void vreply(struct smtp_session *s, int code, const char *enh,
		   int more, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void vreply(struct smtp_session *s, int code, const char *enh,
		   int more, const char *fmt, va_list ap)
{
	char line[REPLY_LINE_MAX + 1];
	size_t n = reply_vformat(line, sizeof(line), code, enh, more, fmt, ap);

	if (n == 0 || (s->flags & SMTP_F_CLOSED))
		return;
	s->ops->trace(s->env, false, line, n - 2);
	if (s->ops->write(s->env, line, n) < 0)
		close_session(s, false, "output overflow");
}

void smtp_reply(struct smtp_session *s, int code, const char *enh,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, code, enh, 0, fmt, ap);
	va_end(ap);
}

void smtp_reply_more(struct smtp_session *s, int code, const char *enh,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, code, enh, 1, fmt, ap);
	va_end(ap);
}

int smtp_bad(struct smtp_session *s, int code, const char *enh,
	     const char *fmt, ...)
{
	va_list ap;
	char text[REPLY_LINE_MAX];

	if (proto_bad_hit(&s->bad)) {
		smtp_reply(s, 421, "4.7.0", "%s Too many errors, closing connection",
			   s->cfg->hostname);
		log_info("%s too many bad commands client=%s", s->sid, s->peer);
		return PROTO_CLOSE;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	smtp_reply(s, code, enh, "%s", text);
	return PROTO_DONE;
}

void smtp_log_reject(struct smtp_session *s, const char *stage,
		     const char *arg, int code, const char *text)
{
	log_info("%s reject stage=%s arg=%s client=%s code=%d reason=\"%s\"",
		 s->sid, stage, arg, s->peer, code, text);
}

void smtp_tx_reset(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;

	pipe_tx_free(tx->ptx);
	free(tx->wait_arg);
	memset(tx, 0, sizeof(*tx));
}

void smtp_pause(struct smtp_session *s)
{
	smtp_set_state(s, SMTP_S_BUSY);
	if (!(s->flags & SMTP_F_CLOSED))
		s->ops->pause(s->env);
}

/* A graceful stop waits for a message in flight, then says goodbye. */
static bool stop_now(struct smtp_session *s)
{
	if (!(s->flags & SMTP_F_STOP) || (s->flags & SMTP_F_CLOSED))
		return false;
	if (s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT ||
	    s->state == SMTP_S_BUSY || s->state == SMTP_S_QUIT)
		return false;
	smtp_reply(s, 421, "4.3.2", "%s Service shutting down, closing channel",
		   s->cfg->hostname);
	smtp_set_state(s, SMTP_S_QUIT);
	close_session(s, true, "shutdown");
	return true;
}

void smtp_resume(struct smtp_session *s)
{
	if ((s->flags & SMTP_F_CLOSED) || stop_now(s))
		return;
	s->ops->resume(s->env);
}

void smtp_async_done(struct smtp_session *s, int rc)
{
	if (rc == PROTO_ASYNC)
		return;
	if (rc == PROTO_CLOSE) {
		smtp_set_state(s, SMTP_S_QUIT);
		close_session(s, true, "session end");
		return;
	}
	smtp_resume(s);
}

void smtp_session_shutdown(struct smtp_session *s)
{
	s->flags |= SMTP_F_STOP;
	stop_now(s);
}

int smtp_login(struct smtp_session *s, const char *mech, const char *user,
	       const char *pw, size_t pwlen)
{
	if ((s->flags & SMTP_F_CLOSED) ||
	    s->ops->login(s->env, mech, user, pw, pwlen) < 0)
		return -1;
	smtp_pause(s);
	return 0;
}

/* Content output buffer of the session (DATA lines, BDAT reads). */
static char *content_buf(struct smtp_session *s, size_t need)
{
	if (need + DATA_OUT_SLACK > s->buf_size) {
		char *grown = realloc(s->buf, need + DATA_OUT_SLACK);

		if (grown == NULL)
			return NULL;
		s->buf = grown;
		s->buf_size = need + DATA_OUT_SLACK;
	}
	return s->buf;
}

void smtp_start_data(struct smtp_session *s)
{
	size_t limit = s->cfg->smtp_line_limit;

	data_init(&s->tx.dp, DATA_MODE_DOT, s->cfg->max_message_size, limit);
	s->ops->set_raw(s->env, true);
	smtp_set_state(s, SMTP_S_DATA);
}

void smtp_start_chunk(struct smtp_session *s, uint64_t size)
{
	s->chunk_prev = s->state;
	s->tx.bdat_left = size;
	s->ops->set_raw(s->env, true);
	smtp_set_state(s, SMTP_S_BDAT);
	if (size == 0)
		chunk_done_now(s);
}

void smtp_discard_chunk(struct smtp_session *s, uint64_t size, int code,
			const char *enh, const char *text)
{
	s->tx.bdat_discard = true;
	s->tx.bdat_code = code;
	s->tx.bdat_enh = enh;
	s->tx.bdat_text = text;
	smtp_start_chunk(s, size);
}

static void end_of_content(struct smtp_session *s, int rc)
{
	s->ops->set_raw(s->env, false);
	if (rc != PROTO_ASYNC)
		smtp_set_state(s, SMTP_S_READY);
}

/* Content octets to take now, at most limit: what is buffered, in reads
 * of at most SMTP_CHUNK_READ. */
static size_t content_want(struct smtp_session *s, uint64_t limit)
{
	size_t want = s->ops->input_pending(s->env);

	if (want > SMTP_CHUNK_READ)
		want = SMTP_CHUNK_READ;
	return limit < want ? (size_t)limit : want;
}

/* Feed n octets that cannot be given out (no buffer) to the parser in
 * small pieces, to find the end; the message is refused there. */
static size_t data_skip(struct smtp_session *s, const char *data, size_t n)
{
	char scratch[512 + DATA_OUT_SLACK];
	size_t used = 0, o;

	s->tx.md_err = MD_ERR_IO;
	while (used < n && !data_done(&s->tx.dp)) {
		size_t piece = n - used < 512 ? n - used : 512;

		o = 0;
		used += data_feed(&s->tx.dp, data + used, piece, scratch, &o);
	}
	return used;
}

/* DATA content as it arrives, not line by line: the parser knows the
 * wire (line ends, dot-stuffing, the final dot, line lengths). What
 * follows the final dot (pipelined commands) is given back to the line
 * reader. False when nothing was buffered. */
static bool data_read(struct smtp_session *s)
{
	const char *data;
	size_t want = content_want(s, SMTP_CHUNK_READ), n, used, o = 0;
	char *out;

	if (want == 0 || s->hooks->content_wait(s, want))
		return false;
	n = s->ops->read_raw(s->env, &data, want);
	if (n == 0)
		return false;
	out = content_buf(s, n);
	if (out == NULL)
		used = data_skip(s, data, n);
	else
		used = data_feed(&s->tx.dp, data, n, out, &o);
	s->hooks->content(s, out, o);
	if (data_done(&s->tx.dp)) {
		s->ops->unread_raw(s->env, n - used);
		s->ops->trace(s->env, true, "<message content>", 17);
		end_of_content(s, s->hooks->content_end(s));
	}
	return true;
}

/* The end of a BDAT chunk: reply, or finish the message at LAST. */
static void chunk_done_now(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	char *out;
	size_t n;

	s->ops->set_raw(s->env, false);
	smtp_set_state(s, s->chunk_prev);
	if (tx->bdat_discard) {
		if (tx->bdat_code != 0)
			smtp_reply(s, tx->bdat_code, tx->bdat_enh, "%s",
				   tx->bdat_text);
		tx->bdat_discard = false;
		return;
	}
	if (!tx->bdat_last) {
		smtp_reply(s, 250, "2.0.0", "%llu octets received",
			   (unsigned long long)data_size(&tx->dp));
		return;
	}
	out = content_buf(s, 0);
	n = out != NULL ? data_finish(&tx->dp, out) : 0;
	s->hooks->content(s, out, n);
	end_of_content(s, s->hooks->content_end(s));
}

/* Read BDAT octets; true when the loop may go on. */
static bool chunk_read(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	const char *data;
	size_t want = content_want(s, tx->bdat_left), n;

	/* A chunk of 0 octets (or its end) goes straight to chunk_done_now. */
	if (tx->bdat_left > 0 &&
	    (want == 0 ||
	     (!tx->bdat_discard && s->hooks->content_wait(s, want))))
		return false;
	n = want > 0 ? s->ops->read_raw(s->env, &data, want) : 0;
	if (want > 0 && n == 0)
		return false;
	if (n > 0 && !tx->bdat_discard) {
		char *out = content_buf(s, n);
		size_t o = 0;

		if (out == NULL) {
			tx->md_err = MD_ERR_IO;
		} else {
			data_feed(&tx->dp, data, n, out, &o);
			s->hooks->content(s, out, o);
		}
	}
	tx->bdat_left -= n;
	if (tx->bdat_left == 0)
		chunk_done_now(s);
	return true;
}

static void mask_trace(struct smtp_session *s, const char *line, size_t len)
{
	/* AUTH data never reaches the trace: keep the verb and mechanism. */
	if (s->state == SMTP_S_AUTH) {
		s->ops->trace(s->env, true, "<SASL response>", 15);
	} else if (len > 5 && strncasecmp(line, "AUTH ", 5) == 0) {
		const char *sp = memchr(line + 5, ' ', len - 5);
		size_t keep = sp != NULL ? (size_t)(sp - line) : len;
		char buf[64];

		if (keep > 40)
			keep = 40;
		snprintf(buf, sizeof(buf), "%.*s%s", (int)keep, line,
			 sp != NULL ? " ****" : "");
		s->ops->trace(s->env, true, buf, strlen(buf));
	} else {
		s->ops->trace(s->env, true, line, len);
	}
}

void smtp_session_input(struct smtp_session *s)
{
	while (!(s->flags & (SMTP_F_CLOSED | SMTP_F_CLOSING))) {
		struct conn_line line;

		if (stop_now(s))
			return;
		if (s->state == SMTP_S_BUSY || s->state == SMTP_S_QUIT)
			return;
		if (s->state == SMTP_S_BDAT) {
			if (!chunk_read(s))
				return;
			continue;
		}
		if (s->state == SMTP_S_DATA) {
			if (!data_read(s))
				return;
			continue;
		}
		if (s->ops->next_line(s->env, &line) == 0)
			return;
		mask_trace(s, line.data, line.len);
		if (s->hooks->line(s, &line) == PROTO_CLOSE) {
			smtp_set_state(s, SMTP_S_QUIT);
			close_session(s, true, "session end");
			return;
		}
	}
}

void smtp_session_timeout(struct smtp_session *s)
{
	log_info("%s timeout client=%s state=%s", s->sid, s->peer,
		 smtp_state_name(s->state));
	smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
		   s->cfg->hostname);
	smtp_set_state(s, SMTP_S_QUIT);
	close_session(s, true, "timeout");
}

void smtp_session_greet(struct smtp_session *s)
{
	smtp_reply(s, 220, NULL, "%s ESMTP kantorpos ready", s->cfg->hostname);
}

void smtp_session_tls_ready(struct smtp_session *s)
{
	s->flags |= SMTP_F_TLS;
	log_info("%s tls client=%s version=%s cipher=%s", s->sid, s->peer,
		 s->ops->tls_version(s->env), s->ops->tls_cipher(s->env));
	if (s->lc->tls)
		smtp_session_greet(s);
}

void smtp_start_tls(struct smtp_session *s)
{
	size_t discarded = 0;

	/* RFC 3207 §4.2: everything learnt before TLS is forgotten. */
	smtp_tx_reset(s);
	s->flags &= ~SMTP_F_EHLO;
	s->helo[0] = '\0';
	smtp_set_state(s, SMTP_S_INIT);
	if (s->ops->start_tls(s->env, &discarded) < 0) {
		close_session(s, false, "TLS start failed");
		return;
	}
	if (discarded > 0)
		log_warnx("%s starttls client=%s discarded %zu octets pipelined after STARTTLS",
			  s->sid, s->peer, discarded);
}

void smtp_session_maybe_free(struct smtp_session *s)
{
	if (!(s->flags & SMTP_F_CLOSED) || s->job_running)
		return;
	smtp_tx_reset(s);
	s->ops->release(s->env);
	free(s->refresh_arg);
	free(s->buf);
	free(s);
}

void smtp_session_closed(struct smtp_session *s, const char *reason)
{
	log_info("%s disconnect client=%s reason=%s state=%s", s->sid, s->peer,
		 reason, smtp_state_name(s->state));
	s->flags |= SMTP_F_CLOSED;
	s->hooks->closed(s); /* ETRN */
	smtp_session_maybe_free(s);
}
