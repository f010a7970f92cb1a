/* smtpd/client.c: an SMTP connection in the daemon: accept and refuse,
 * implicit TLS, the conn callbacks that feed the session, the session's
 * environment (output and trace, the conn's line reader, pause, STARTTLS,
 * TLS facts, the login through the auth module, close) and its protocol
 * hooks (the commands, the delivery), and the lifecycle shared with the
 * server registry.
 *
 * Lifetime: the client lives as long as its session; the session frees
 * itself once its conn is closed and no job holds it, and then releases
 * the client (env_release). A login in flight is cancelled when the conn
 * closes. */
#include "autoconf.h"

#include "smtpd/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/net/conn.h"
#include "common/runtime/auth.h"
#include "common/runtime/server.h"
#include "smtpd/authcmd.h"
#include "smtpd/commands.h"
#include "smtpd/etrncmd.h"
#include "smtpd/outq.h"
#include "smtpd/refresh.h"
#include "smtpd/resolver.h"
#include "smtpd/session.h"
#include "smtpd/smtpd.h"
#include "smtpd/transaction.h"

struct smtp_client {
	struct server_client cl; /* first: the shutdown hook gets &cl */
	struct server *srv;
	struct conn *conn;       /* NULL once closed */
	struct smtp_session *sess;
	struct auth *auth;       /* a login in flight */
	struct smtpd_refresh *refresh; /* a MAIL's refresh in flight */
	char sid[SERVER_SID_SIZE];
	char peer[64];
};

_Static_assert(SMTP_SID_SIZE == SERVER_SID_SIZE, "session ids fit");

static int env_write(void *env, const void *data, size_t len);
static void env_trace(void *env, bool incoming, const char *text, size_t len);
static int env_next_line(void *env, struct conn_line *line_r);
static size_t env_read_raw(void *env, const char **data_r, size_t max);
static void env_unread_raw(void *env, size_t n);
static size_t env_input_pending(void *env);
static void env_set_raw(void *env, bool raw);
static void env_pause(void *env);
static void env_resume(void *env);
static bool env_tls_available(void *env);
static int env_start_tls(void *env, size_t *discarded_r);
static const char *env_tls_version(void *env);
static const char *env_tls_cipher(void *env);
static int env_login(void *env, const char *mech, const char *user,
		     const char *pw, size_t pwlen);
static void env_pipe_env(void *env, struct pipe_env *e);
static int env_refresh(void *env);
static struct runner *env_runner(void *env);
static void env_close(void *env, bool after_flush, const char *reason);
static void env_release(void *env);
static void on_readable(struct conn *conn, void *arg);
static void on_timeout(struct conn *conn, void *arg);
static void on_tls_ready(struct conn *conn, void *arg);
static void on_close(struct conn *conn, void *arg,
		     enum conn_close_reason reason, const char *detail);
static void on_shutdown(struct server_client *cl);
static void auth_done(void *arg, enum auth_result result,
		      const char *mailbox);

static const struct smtp_ops client_ops = {
	.write = env_write,
	.trace = env_trace,
	.next_line = env_next_line,
	.read_raw = env_read_raw,
	.unread_raw = env_unread_raw,
	.input_pending = env_input_pending,
	.set_raw = env_set_raw,
	.pause = env_pause,
	.resume = env_resume,
	.tls_available = env_tls_available,
	.start_tls = env_start_tls,
	.tls_version = env_tls_version,
	.tls_cipher = env_tls_cipher,
	.login = env_login,
	.pipe_env = env_pipe_env,
	.refresh = env_refresh,
	.runner = env_runner,
	.close = env_close,
	.release = env_release,
};

/* The protocol above the session: the commands, and the message through
 * the pipeline. */
static const struct smtp_hooks client_hooks = {
	.line = smtp_command_line,
	.content_wait = smtp_txn_content_wait,
	.content = smtp_txn_content,
	.content_end = smtp_txn_content_end,
	.closed = smtp_etrn_cancel,
};

static const struct conn_cb client_cb = {
	.on_readable = on_readable,
	.on_timeout = on_timeout,
	.on_tls_ready = on_tls_ready,
	.on_close = on_close,
};

void smtp_client_refuse(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer)
{
	static const char msg[] = "421 4.7.0 Too many connections, try again later\r\n";
	ssize_t n;

	(void)srv;
	(void)peer;
	if (lc->tls)
		return;
	/* One non-blocking attempt; the server closes fd. */
	n = write(fd, msg, sizeof(msg) - 1);
	(void)n;
}

/* The session of a registered client. */
static struct smtp_session *new_session(struct smtp_client *c,
					const struct config_listen *lc)
{
	struct smtp_session_cfg scfg = {
		.cfg = server_client_config(&c->cl),
		.lc = lc,
		.sid = c->sid,
		.peer = c->peer,
	};

	return smtp_session_new(&client_ops, c, &client_hooks, &scfg);
}

void smtp_client_accept(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer)
{
	struct smtp_client *c = calloc(1, sizeof(*c));
	SSL_CTX *ctx;

	if (c == NULL) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->cl.shutdown = on_shutdown;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (server_client_register(srv, &c->cl, peer) < 0) {
		free(c);
		close(fd);
		return;
	}
	server_new_sid(srv, c->sid);
	if ((c->sess = new_session(c, lc)) == NULL ||
	    (c->conn = conn_new(server_loop(srv), fd, &client_cb, c)) == NULL) {
		log_warn("%s connection setup failed", c->sid);
		free(c->sess); /* new: it holds nothing yet */
		server_client_unregister(srv, &c->cl);
		free(c);
		close(fd);
		return;
	}
	conn_set_timeout(c->conn, c->sess->cfg->smtp_timeout);
	conn_set_max_line(c->conn, SMTP_LINE_MAX);
	log_info("%s connect client=%s port=%u role=%s%s", c->sid, peer,
		 lc->port,
		 lc->role == CONFIG_ROLE_SUBMISSION ? "submission"
		 : lc->role == CONFIG_ROLE_SUBMISSIONS ? "submissions" : "mx",
		 lc->tls ? " tls" : "");
	if (lc->tls) {
		/* RFC 8314 §3.1: the greeting only inside TLS. */
		ctx = server_tls_ctx(srv);
		if (ctx == NULL || conn_start_tls(c->conn, ctx, NULL) < 0)
			conn_close(c->conn, "TLS not available");
		return;
	}
	smtp_session_greet(c->sess);
}

/* The session's environment. */

static int env_write(void *env, const void *data, size_t len)
{
	struct smtp_client *c = env;

	return c->conn != NULL ? conn_write(c->conn, data, len) : -1;
}

static void env_trace(void *env, bool incoming, const char *text, size_t len)
{
	struct smtp_client *c = env;

	server_trace(c->srv, c->sid, incoming, text, len);
}

static int env_next_line(void *env, struct conn_line *line_r)
{
	struct smtp_client *c = env;

	return c->conn != NULL ? conn_next_line(c->conn, line_r) : 0;
}

static size_t env_read_raw(void *env, const char **data_r, size_t max)
{
	struct smtp_client *c = env;

	return c->conn != NULL ? conn_read_raw(c->conn, data_r, max) : 0;
}

static void env_unread_raw(void *env, size_t n)
{
	struct smtp_client *c = env;

	if (c->conn != NULL)
		conn_unread_raw(c->conn, n);
}

static size_t env_input_pending(void *env)
{
	struct smtp_client *c = env;

	return c->conn != NULL ? conn_input_pending(c->conn) : 0;
}

static void env_set_raw(void *env, bool raw)
{
	struct smtp_client *c = env;

	if (c->conn != NULL)
		conn_set_raw(c->conn, raw);
}

static void env_pause(void *env)
{
	struct smtp_client *c = env;

	if (c->conn != NULL)
		conn_pause_input(c->conn);
}

static void env_resume(void *env)
{
	struct smtp_client *c = env;

	if (c->conn != NULL)
		conn_resume_input(c->conn);
}

static bool env_tls_available(void *env)
{
	struct smtp_client *c = env;

	return server_tls_ctx(c->srv) != NULL;
}

static int env_start_tls(void *env, size_t *discarded_r)
{
	struct smtp_client *c = env;
	SSL_CTX *ctx = server_tls_ctx(c->srv);

	if (c->conn == NULL || ctx == NULL)
		return -1;
	return conn_start_tls(c->conn, ctx, discarded_r);
}

static const char *env_tls_version(void *env)
{
	struct smtp_client *c = env;

	return c->conn != NULL ? conn_tls_version(c->conn) : NULL;
}

static const char *env_tls_cipher(void *env)
{
	struct smtp_client *c = env;

	return c->conn != NULL ? conn_tls_cipher(c->conn) : NULL;
}

static int env_login(void *env, const char *mech, const char *user,
		     const char *pw, size_t pwlen)
{
	struct smtp_client *c = env;

	c->auth = auth_start(c->srv, c->peer, c->sid, mech, user, pw, pwlen,
			     auth_done, c);
	return c->auth != NULL ? 0 : -1;
}

static void auth_done(void *arg, enum auth_result result, const char *mailbox)
{
	struct smtp_client *c = arg;

	c->auth = NULL;
	smtp_auth_done(c->sess, result == AUTH_OK ? SMTP_LOGIN_OK
			: result == AUTH_FAIL ? SMTP_LOGIN_FAIL
			: SMTP_LOGIN_TEMP, mailbox);
}

/* What the pipeline uses, as it is now (a reload replaces the aliases). */
static void env_pipe_env(void *env, struct pipe_env *e)
{
	struct smtp_client *c = env;
	struct smtpd *d = server_data(c->srv);

	memset(e, 0, sizeof(*e));
	e->cfg = server_client_config(&c->cl);
	e->db = server_userdb(c->srv);
	e->al = d->al;
	e->io = server_io_worker(c->srv);
	e->queue = smtpd_outq_queue(d);
	e->kick = smtpd_outq_kick;
	e->kick_arg = d;
	e->dns = smtpd_resolver(d);
	e->loop = server_loop(c->srv);
}

static void refresh_done(void *arg)
{
	struct smtp_client *c = arg;

	c->refresh = NULL;
	smtp_refresh_done(c->sess);
}

static int env_refresh(void *env)
{
	struct smtp_client *c = env;

	if (c->conn == NULL)
		return 0;
	c->refresh = smtpd_refresh_start(c->srv, refresh_done, c);
	return c->refresh != NULL ? 1 : 0;
}

static struct runner *env_runner(void *env)
{
	struct smtp_client *c = env;

	return smtpd_outq_runner(server_data(c->srv));
}

static void env_close(void *env, bool after_flush, const char *reason)
{
	struct smtp_client *c = env;

	if (c->conn == NULL)
		return;
	if (after_flush)
		conn_close_after_flush(c->conn, reason);
	else
		conn_close(c->conn, reason);
}

static void env_release(void *env)
{
	struct smtp_client *c = env;

	server_client_unregister(c->srv, &c->cl);
	free(c);
}

/* Connection events. */

static void on_readable(struct conn *conn, void *arg)
{
	struct smtp_client *c = arg;

	(void)conn;
	smtp_session_input(c->sess);
}

static void on_timeout(struct conn *conn, void *arg)
{
	struct smtp_client *c = arg;

	(void)conn;
	smtp_session_timeout(c->sess);
}

static void on_tls_ready(struct conn *conn, void *arg)
{
	struct smtp_client *c = arg;

	(void)conn;
	smtp_session_tls_ready(c->sess);
}

static void on_close(struct conn *conn, void *arg,
		     enum conn_close_reason reason, const char *detail)
{
	struct smtp_client *c = arg;

	(void)conn;
	c->conn = NULL;
	smtpd_refresh_cancel(c->srv, c->refresh);
	c->refresh = NULL;
	if (c->auth != NULL) {
		auth_cancel(c->auth);
		c->auth = NULL;
	}
	smtp_session_closed(c->sess, reason == CONN_CLOSE_LOCAL ? detail
			    : detail[0] != '\0' ? detail : "eof");
}

static void on_shutdown(struct server_client *cl)
{
	struct smtp_client *c = (struct smtp_client *)cl;

	smtp_session_shutdown(c->sess);
}
