/* smtpd/session.c: SMTP session lifecycle, input loop (command lines,
 * DATA lines, BDAT octets), replies and trace. */
#include "autoconf.h"

#include "smtpd/session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/runtime/auth.h"
#include "common/net/conn.h"
#include "common/base/log.h"
#include "smtpd/reply.h"
#include "store/maildir.h"

/* Octets of a BDAT chunk taken from the connection at a time. */
#define SMTP_CHUNK_READ 65536

static void on_readable(struct conn *c, void *arg);
static void on_timeout(struct conn *c, void *arg);
static void on_tls_ready(struct conn *c, void *arg);
static void on_close(struct conn *c, void *arg, enum conn_close_reason reason,
		     const char *detail);
static void on_shutdown(struct server_client *cl);

static const struct conn_cb smtp_conn_cb = {
	.on_readable = on_readable,
	.on_timeout = on_timeout,
	.on_tls_ready = on_tls_ready,
	.on_close = on_close,
};

static const char *const STATE_NAMES[SMTP_S_COUNT] = {
	"INIT", "READY", "MAIL", "RCPT", "DATA", "BDAT", "AUTH", "BUSY", "QUIT",
};

/* Content output buffer of the session (DATA lines, BDAT reads). */
static char *content_buf(struct smtp_session *s, size_t need);
static void chunk_done_now(struct smtp_session *s);

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

void smtp_set_state(struct smtp_session *s, enum smtp_state state)
{
	if (s->state == state)
		return;
	log_debug("%s state %s -> %s", s->sid, smtp_state_name(s->state),
		  smtp_state_name(state));
	s->state = state;
}

static void vreply(struct smtp_session *s, int code, const char *enh,
		   int more, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void vreply(struct smtp_session *s, int code, const char *enh,
		   int more, const char *fmt, va_list ap)
{
	char line[REPLY_LINE_MAX + 1];
	size_t n = reply_vformat(line, sizeof(line), code, enh, more, fmt, ap);

	if (n == 0 || s->conn == NULL)
		return;
	server_trace(s->srv, s->sid, false, line, n - 2);
	if (conn_write(s->conn, line, n) < 0)
		conn_close(s->conn, "output overflow");
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
	if (s->conn != NULL)
		conn_pause_input(s->conn);
}

/* A graceful stop waits for a message in flight, then says goodbye. */
static bool stop_now(struct smtp_session *s)
{
	if (!(s->flags & SMTP_F_STOP) || s->conn == NULL)
		return false;
	if (s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT ||
	    s->state == SMTP_S_BUSY || s->state == SMTP_S_QUIT)
		return false;
	smtp_reply(s, 421, "4.3.2", "%s Service shutting down, closing channel",
		   s->cfg->hostname);
	smtp_set_state(s, SMTP_S_QUIT);
	conn_close_after_flush(s->conn, "shutdown");
	return true;
}

void smtp_resume(struct smtp_session *s)
{
	if (s->conn == NULL || stop_now(s))
		return;
	conn_resume_input(s->conn);
}

static void on_shutdown(struct server_client *cl)
{
	struct smtp_session *s = (struct smtp_session *)cl;

	s->flags |= SMTP_F_STOP;
	stop_now(s);
}

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
	conn_set_raw(s->conn, true);
	smtp_set_state(s, SMTP_S_DATA);
}

void smtp_start_chunk(struct smtp_session *s, uint64_t size)
{
	s->chunk_prev = s->state;
	s->tx.bdat_left = size;
	conn_set_raw(s->conn, true);
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
	conn_set_raw(s->conn, false);
	conn_set_max_line(s->conn, SMTP_SASL_MAX + 2);
	if (rc != PROTO_ASYNC)
		smtp_set_state(s, SMTP_S_READY);
}

/* Content octets to take now, at most limit: what is buffered, in reads
 * of at most SMTP_CHUNK_READ. */
static size_t content_want(struct smtp_session *s, uint64_t limit)
{
	size_t want = conn_input_pending(s->conn);

	if (want > SMTP_CHUNK_READ)
		want = SMTP_CHUNK_READ;
	return limit < want ? (size_t)limit : want;
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

	if (want == 0 || smtp_delivery_wait_file(s, want))
		return false;
	n = conn_read_raw(s->conn, &data, want);
	if (n == 0)
		return false;
	out = content_buf(s, n);
	if (out == NULL) {
		/* Read on to the end in small pieces; the message is refused
		 * there. */
		char scratch[512 + DATA_OUT_SLACK];

		s->tx.md_err = MD_ERR_IO;
		used = 0;
		while (used < n && !data_done(&s->tx.dp)) {
			size_t piece = n - used < 512 ? n - used : 512;

			used += data_feed(&s->tx.dp, data + used, piece, scratch,
					  &o);
		}
		o = 0;
	} else {
		used = data_feed(&s->tx.dp, data, n, out, &o);
	}
	smtp_delivery_write(s, out, o);
	if (data_done(&s->tx.dp)) {
		conn_unread_raw(s->conn, n - used);
		server_trace(s->srv, s->sid, true, "<message content>", 17);
		end_of_content(s, smtp_delivery_end(s));
	}
	return true;
}

/* The end of a BDAT chunk: reply, or finish the message at LAST. */
static void chunk_done_now(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	char *out;
	size_t n;

	conn_set_raw(s->conn, false);
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
	smtp_delivery_write(s, out, n);
	end_of_content(s, smtp_delivery_end(s));
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
	     (!tx->bdat_discard && smtp_delivery_wait_file(s, want))))
		return false;
	n = want > 0 ? conn_read_raw(s->conn, &data, want) : 0;
	if (want > 0 && n == 0)
		return false;
	if (n > 0 && !tx->bdat_discard) {
		char *out = content_buf(s, n);
		size_t o = 0;

		if (out == NULL) {
			tx->md_err = MD_ERR_IO;
		} else {
			data_feed(&tx->dp, data, n, out, &o);
			smtp_delivery_write(s, out, o);
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
		server_trace(s->srv, s->sid, true, "<SASL response>", 15);
	} else if (len > 5 && strncasecmp(line, "AUTH ", 5) == 0) {
		const char *sp = memchr(line + 5, ' ', len - 5);
		size_t keep = sp != NULL ? (size_t)(sp - line) : len;
		char buf[64];

		if (keep > 40)
			keep = 40;
		snprintf(buf, sizeof(buf), "%.*s%s", (int)keep, line,
			 sp != NULL ? " ****" : "");
		server_trace(s->srv, s->sid, true, buf, strlen(buf));
	} else {
		server_trace(s->srv, s->sid, true, line, len);
	}
}

static void process_input(struct smtp_session *s)
{
	while (s->conn != NULL && !conn_is_closing(s->conn)) {
		struct conn_line line;
		int rc;

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
		if (conn_next_line(s->conn, &line) == 0)
			return;
		mask_trace(s, line.data, line.len);
		if (line.flags & CONN_LINE_OVERLONG && s->state == SMTP_S_AUTH) {
			/* RFC 4954 §4: the exchange is cancelled. */
			s->sasl_mech = 0;
			smtp_set_state(s, SMTP_S_READY);
			rc = smtp_bad(s, 500, "5.5.6",
				      "Authentication exchange line is too long");
		} else if (line.flags & CONN_LINE_OVERLONG) {
			rc = smtp_bad(s, 500, "5.5.2", "Line too long");
		} else if (s->state == SMTP_S_AUTH) {
			rc = smtp_sasl_line(s, line.data, line.len);
		} else {
			rc = smtp_command(s, line.data, line.len);
		}
		if (rc == PROTO_CLOSE) {
			smtp_set_state(s, SMTP_S_QUIT);
			conn_close_after_flush(s->conn, "session end");
			return;
		}
	}
}

static void on_readable(struct conn *c, void *arg)
{
	(void)c;
	process_input(arg);
}

static void on_timeout(struct conn *c, void *arg)
{
	struct smtp_session *s = arg;

	log_info("%s timeout client=%s state=%s", s->sid, s->peer,
		 smtp_state_name(s->state));
	smtp_reply(s, 421, "4.4.2", "%s Error: timeout exceeded",
		   s->cfg->hostname);
	smtp_set_state(s, SMTP_S_QUIT);
	conn_close_after_flush(c, "timeout");
}

static void greet(struct smtp_session *s)
{
	smtp_reply(s, 220, NULL, "%s ESMTP kantorpos ready", s->cfg->hostname);
}

static void on_tls_ready(struct conn *c, void *arg)
{
	struct smtp_session *s = arg;

	s->flags |= SMTP_F_TLS;
	log_info("%s tls client=%s version=%s cipher=%s", s->sid, s->peer,
		 conn_tls_version(c), conn_tls_cipher(c));
	if (s->lc->tls)
		greet(s);
}

void smtp_start_tls(struct smtp_session *s)
{
	SSL_CTX *ctx = server_tls_ctx(s->srv);
	size_t discarded = 0;

	/* RFC 3207 §4.2: everything learnt before TLS is forgotten. */
	smtp_tx_reset(s);
	s->flags &= ~SMTP_F_EHLO;
	s->helo[0] = '\0';
	smtp_set_state(s, SMTP_S_INIT);
	if (ctx == NULL || conn_start_tls(s->conn, ctx, &discarded) < 0) {
		conn_close(s->conn, "TLS start failed");
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
	server_client_unregister(s->srv, &s->client);
	free(s->buf);
	free(s);
}

static void on_close(struct conn *c, void *arg, enum conn_close_reason reason,
		     const char *detail)
{
	struct smtp_session *s = arg;

	(void)c;
	log_info("%s disconnect client=%s reason=%s state=%s", s->sid, s->peer,
		 reason == CONN_CLOSE_LOCAL ? detail : detail[0] ? detail : "eof",
		 smtp_state_name(s->state));
	s->conn = NULL;
	s->flags |= SMTP_F_CLOSED;
	if (s->auth != NULL) {
		auth_cancel(s->auth);
		s->auth = NULL;
		s->job_running = false;
	}
	smtp_etrn_cancel(s); /* ETRN */
	smtp_session_maybe_free(s);
}

void smtp_accept(struct server *srv, const struct config_listen *lc, int fd,
		 const char *peer)
{
	struct smtp_session *s = calloc(1, sizeof(*s));
	SSL_CTX *ctx;

	if (s == NULL) {
		close(fd);
		return;
	}
	s->srv = srv;
	s->lc = lc;
	s->client.shutdown = on_shutdown;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	if (server_client_register(srv, &s->client, peer) < 0) {
		free(s);
		close(fd);
		return;
	}
	s->cfg = server_client_config(&s->client);
	server_new_sid(srv, s->sid);
	proto_bad_init(&s->bad, (unsigned)s->cfg->bad_command_limit);
	s->conn = conn_new(server_loop(srv), fd, &smtp_conn_cb, s);
	if (s->conn == NULL) {
		log_warn("%s connection setup failed", s->sid);
		server_client_unregister(srv, &s->client);
		free(s);
		close(fd);
		return;
	}
	conn_set_timeout(s->conn, s->cfg->smtp_timeout);
	conn_set_max_line(s->conn, SMTP_SASL_MAX + 2);
	log_info("%s connect client=%s port=%u role=%s%s", s->sid, peer,
		 lc->port,
		 lc->role == CONFIG_ROLE_SUBMISSION ? "submission"
		 : lc->role == CONFIG_ROLE_SUBMISSIONS ? "submissions" : "mx",
		 lc->tls ? " tls" : "");
	if (lc->tls) {
		ctx = server_tls_ctx(srv);
		if (ctx == NULL || conn_start_tls(s->conn, ctx, NULL) < 0)
			conn_close(s->conn, "TLS not available");
		return;
	}
	greet(s);
}

void smtp_refuse(struct server *srv, const struct config_listen *lc, int fd,
		 const char *peer)
{
	static const char msg[] = "421 4.7.0 Too many connections, try again later\r\n";
	ssize_t n;

	(void)srv;
	(void)peer;
	if (lc->tls)
		return;
	n = write(fd, msg, sizeof(msg) - 1);
	(void)n;
}
