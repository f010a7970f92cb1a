/* pop3d/client.c: a POP3 connection in the daemon: conn callbacks, the
 * session's environment (output, pause, STLS, login through the auth
 * module, maildrop open and UPDATE on the storage pool), the protocol trace
 * with secrets masked, and the lifecycle shared with the server registry.
 *
 * Lifetime: the client lives until its conn is closed and nothing it
 * started (a login, a worker job) is still in flight; whichever ends last
 * frees it. */
#include "autoconf.h"

#include "pop3d/client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/mail/address.h"
#include "common/runtime/auth.h"
#include "common/net/conn.h"
#include "common/base/log.h"
#include "common/net/net.h"
#include "common/runtime/server.h"
#include "common/net/worker.h"
#include "pop3d/session.h"
#include "pop3d/commands.h"
#include "store/maildir.h"
#include "store/maildrop.h"

struct pop3_client {
	struct server_client cl; /* first: the shutdown hook gets &cl */
	struct server *srv;
	struct conn *conn;       /* NULL once closed */
	struct pop3_session *sess;
	struct auth *auth;       /* a login in flight */
	unsigned jobs;           /* worker jobs in flight */
	/* A multi-line reply waiting for the client to read: the conn's
	 * idle timer is off while input is paused, so this one ends a
	 * client that stops reading (it would hold the maildrop lock). */
	ev_timer stall;
	bool registered;
	bool greeted;
	char sid[SERVER_SID_SIZE];
	char peer[NET_ADDRSTRLEN];
};

/* A maildrop open or commit on the storage pool. */
struct drop_job {
	struct pop3_client *c;
	char *maildir;          /* open: where */
	char user[ADDR_KEY_SIZE];
	struct mdrop *drop;     /* open: result; commit: input */
	int rc;
	int err;
	size_t removed;
};

static int env_write(void *env, const void *data, size_t len);
static size_t env_pending(void *env);
static void env_request_drain(void *env);
static void env_pause(void *env);
static void env_resume(void *env);
static int env_start_tls(void *env);
static void env_login(void *env, const char *mech, const char *user,
		      const char *pw, size_t pwlen);
static void env_update(void *env, struct mdrop *drop);
static void env_close(void *env);
static void on_readable(struct conn *conn, void *arg);
static void on_drain(struct conn *conn, void *arg);
static void on_timeout(struct conn *conn, void *arg);
static void on_tls_ready(struct conn *conn, void *arg);
static void on_close(struct conn *conn, void *arg,
		     enum conn_close_reason reason, const char *detail);
static void on_shutdown(struct server_client *cl);
static void on_stall(struct ev_loop *loop, ev_timer *w, int revents);
static void auth_done(void *arg, enum auth_result result,
		      const char *mailbox);
static void open_job(void *arg);
static void open_done(void *arg);
static void commit_job(void *arg);
static void commit_done(void *arg);
static void maybe_free(struct pop3_client *c);
static void trace_in(struct pop3_client *c, const struct conn_line *l);
static void trace_out(struct pop3_client *c, const char *data, size_t len);

static const struct pop3_ops client_ops = {
	env_write, env_pending, env_request_drain, env_pause, env_resume,
	env_start_tls, env_login, env_update, env_close,
};

static const struct conn_cb client_cb = {
	.on_readable = on_readable,
	.on_drain = on_drain,
	.on_timeout = on_timeout,
	.on_tls_ready = on_tls_ready,
	.on_close = on_close,
};

void pop3_client_refuse(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer)
{
	static const char line[] = "-ERR [SYS/TEMP] too many connections, "
				   "try again later\r\n";

	(void)srv;
	(void)peer;
	if (lc->tls)
		return;
	/* One non-blocking attempt; the server closes fd. */
	if (write(fd, line, sizeof line - 1) < 0)
		return;
}

void pop3_client_accept(struct server *srv, const struct config_listen *lc,
			int fd, const char *peer)
{
	struct pop3_client *c = calloc(1, sizeof *c);
	const struct config *cfg;
	struct pop3_session_cfg scfg;
	SSL_CTX *ctx = server_tls_ctx(srv);

	if (c == NULL) {
		log_warn("client=%s cannot accept", peer);
		close(fd);
		return;
	}
	c->srv = srv;
	c->cl.shutdown = on_shutdown;
	ev_timer_init(&c->stall, on_stall, 0., 0.);
	c->stall.data = c;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	server_new_sid(srv, c->sid);
	if (server_client_register(srv, &c->cl, peer) < 0) {
		log_warn("%s client=%s cannot register", c->sid, peer);
		close(fd);
		free(c);
		return;
	}
	c->registered = true;
	cfg = server_client_config(&c->cl);
	if (lc->tls && ctx == NULL) {
		log_errorx("%s listener on line %u needs tls_cert and tls_key",
			   c->sid, lc->line);
		goto fail;
	}
	memset(&scfg, 0, sizeof scfg);
	scfg.id = c->sid;
	scfg.peer = peer;
	scfg.tls_active = lc->tls;
	scfg.tls_available = !lc->tls && ctx != NULL;
	scfg.plaintext_ok = lc->plaintext_ok;
	scfg.bad_command_limit = (unsigned)cfg->bad_command_limit;
	scfg.high_water = CONN_DEFAULT_HIGH_WATER;
	c->sess = pop3_session_new(&client_ops, c, &scfg);
	if (c->sess == NULL) {
		log_warn("%s client=%s cannot start a session", c->sid, peer);
		goto fail;
	}
	c->conn = conn_new(server_loop(srv), fd, &client_cb, c);
	if (c->conn == NULL) {
		log_warn("%s client=%s cannot set up the connection", c->sid,
			 peer);
		goto fail;
	}
	/* RFC 1939 §3 autologout; the timer restarts on each line. */
	conn_set_timeout(c->conn, cfg->pop3_timeout);
	conn_set_max_line(c->conn, POP3_MAX_LINE);
	log_info("%s connect client=%s port=%u%s", c->sid, peer,
		 lc->port, lc->tls ? " tls=implicit" : "");
	if (lc->tls) {
		/* RFC 8314 §3.1: the greeting only inside TLS. */
		if (conn_start_tls(c->conn, ctx, NULL) < 0) {
			conn_close(c->conn, "TLS setup failed");
			return;
		}
		return;
	}
	c->greeted = true;
	pop3_session_greet(c->sess);
	return;
fail:
	close(fd);
	pop3_session_free(c->sess);
	server_client_unregister(srv, &c->cl);
	free(c);
}

/* The session's environment. */

static int env_write(void *env, const void *data, size_t len)
{
	struct pop3_client *c = env;

	if (c->conn == NULL)
		return -1;
	trace_out(c, data, len);
	return conn_write(c->conn, data, len);
}

static size_t env_pending(void *env)
{
	struct pop3_client *c = env;

	return c->conn != NULL ? conn_output_pending(c->conn) : 0;
}

static void env_request_drain(void *env)
{
	struct pop3_client *c = env;
	const struct config *cfg = server_client_config(&c->cl);

	if (c->conn == NULL)
		return;
	conn_request_drain(c->conn);
	/* RFC 1939 §3 autologout also covers a client that no longer reads:
	 * each drain (progress) restarts the timer. */
	ev_timer_stop(server_loop(c->srv), &c->stall);
	if (cfg->pop3_timeout > 0) {
		ev_timer_set(&c->stall, (double)cfg->pop3_timeout, 0.);
		ev_timer_start(server_loop(c->srv), &c->stall);
	}
}

static void on_stall(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pop3_client *c = w->data;

	(void)loop;
	(void)revents;
	if (c->conn == NULL)
		return;
	/* No reply (it would land inside the message) and no UPDATE. */
	log_info("%s client=%s autologout: output not read", c->sid, c->peer);
	conn_close(c->conn, "autologout");
}

static void env_pause(void *env)
{
	struct pop3_client *c = env;

	if (c->conn != NULL)
		conn_pause_input(c->conn);
}

static void env_resume(void *env)
{
	struct pop3_client *c = env;

	if (c->conn != NULL)
		conn_resume_input(c->conn);
}

static int env_start_tls(void *env)
{
	struct pop3_client *c = env;
	SSL_CTX *ctx = server_tls_ctx(c->srv);
	size_t discarded = 0;

	if (c->conn == NULL || ctx == NULL)
		return -1;
	if (conn_start_tls(c->conn, ctx, &discarded) < 0)
		return -1;
	/* RFC 2595 §4, CVE-2011-0411: whatever the client sent after STLS
	 * in plaintext is dropped, never run inside TLS. */
	if (discarded > 0)
		log_warnx("%s client=%s discarded %zu plaintext bytes sent "
			  "after STLS", c->sid, c->peer, discarded);
	return 0;
}

static void env_login(void *env, const char *mech, const char *user,
		      const char *pw, size_t pwlen)
{
	struct pop3_client *c = env;

	c->auth = auth_start(c->srv, c->peer, c->sid, mech, user, pw, pwlen,
			     auth_done, c);
	if (c->auth == NULL) {
		log_warn("%s client=%s cannot start a login", c->sid, c->peer);
		pop3_session_login_done(c->sess, POP3_LOGIN_TEMP, NULL, NULL);
	}
}

static void auth_done(void *arg, enum auth_result result, const char *mailbox)
{
	struct pop3_client *c = arg;
	struct drop_job *j;
	const struct config *cfg = server_client_config(&c->cl);
	const char *at;

	c->auth = NULL;
	switch (result) {
	case AUTH_OK:
		break;
	case AUTH_FAIL:
		pop3_session_login_done(c->sess, POP3_LOGIN_FAIL, NULL, NULL);
		return;
	case AUTH_THROTTLED:
		pop3_session_login_done(c->sess, POP3_LOGIN_THROTTLED, NULL,
					NULL);
		return;
	default:
		pop3_session_login_done(c->sess, POP3_LOGIN_TEMP, NULL, NULL);
		return;
	}
	j = calloc(1, sizeof *j);
	at = strrchr(mailbox, '@');
	if (j == NULL || at == NULL) {
		free(j);
		pop3_session_login_done(c->sess, j ? POP3_LOGIN_PERM
					: POP3_LOGIN_TEMP, NULL, NULL);
		return;
	}
	j->c = c;
	snprintf(j->user, sizeof j->user, "%s", mailbox);
	{
		char local[ADDR_KEY_SIZE];

		snprintf(local, sizeof local, "%.*s", (int)(at - mailbox),
			 mailbox);
		if (md_path(cfg->data_dir, at + 1, local, &j->maildir) < 0) {
			log_warn("%s user=%s no usable maildir path", c->sid,
				 mailbox);
			free(j);
			pop3_session_login_done(c->sess, POP3_LOGIN_PERM, NULL,
						NULL);
			return;
		}
	}
	/* Taking the snapshot reads directories (and sizes): off the loop,
	 * on the storage pool, not behind other logins' Argon2id. */
	if (worker_submit(server_io_worker(c->srv), open_job, open_done, j) < 0) {
		log_warn("%s user=%s cannot queue the maildrop open", c->sid,
			 mailbox);
		free(j->maildir);
		free(j);
		pop3_session_login_done(c->sess, POP3_LOGIN_TEMP, NULL, NULL);
		return;
	}
	c->jobs++;
}

static void open_job(void *arg)
{
	struct drop_job *j = arg;

	j->rc = mdrop_open(j->maildir, &j->drop);
	j->err = errno;
}

static void open_done(void *arg)
{
	struct drop_job *j = arg;
	struct pop3_client *c = j->c;
	enum pop3_login_result r;

	c->jobs--;
	if (c->conn == NULL) {
		if (j->rc == 1)
			mdrop_release(j->drop);
		goto out;
	}
	if (j->rc == 1) {
		r = POP3_LOGIN_OK;
	} else if (j->rc == 0) {
		r = POP3_LOGIN_IN_USE;
		log_info("%s user=%s maildrop in use", c->sid, j->user);
	} else {
		/* RFC 3206 §4: a broken or unreadable maildrop needs an
		 * administrator; anything else may pass. */
		switch (j->err) {
		case EACCES: case EPERM: case ENOTDIR: case ELOOP:
		case EINVAL: case ENAMETOOLONG:
			r = POP3_LOGIN_PERM;
			break;
		default:
			r = POP3_LOGIN_TEMP;
			break;
		}
		errno = j->err;
		log_warn("%s user=%s cannot open maildrop %s", c->sid, j->user,
			 j->maildir);
	}
	pop3_session_login_done(c->sess, r, j->rc == 1 ? j->drop : NULL,
				j->user);
out:
	free(j->maildir);
	free(j);
	maybe_free(c);
}

static void env_update(void *env, struct mdrop *drop)
{
	struct pop3_client *c = env;
	struct drop_job *j = calloc(1, sizeof *j);

	if (j != NULL) {
		j->c = c;
		j->drop = drop;
		if (worker_submit(server_io_worker(c->srv), commit_job,
				  commit_done, j) == 0) {
			c->jobs++;
			return;
		}
		free(j);
	}
	/* No worker: commit here rather than lose the QUIT. */
	{
		size_t removed = 0;
		int rc = mdrop_commit(drop, &removed);

		pop3_session_update_done(c->sess, rc, removed);
	}
}

static void commit_job(void *arg)
{
	struct drop_job *j = arg;

	j->rc = mdrop_commit(j->drop, &j->removed);
	j->err = errno;
}

static void commit_done(void *arg)
{
	struct drop_job *j = arg;
	struct pop3_client *c = j->c;

	c->jobs--;
	if (j->rc < 0) {
		errno = j->err;
		log_warn("%s user=%s UPDATE removed %zu, some marked messages "
			 "remain", c->sid, c->sess->login ? c->sess->login : "-",
			 j->removed);
	}
	/* The session counts what was removed even if the client left. */
	if (c->conn != NULL)
		pop3_session_update_done(c->sess, j->rc, j->removed);
	else
		c->sess->deleted = j->removed;
	free(j);
	maybe_free(c);
}

static void env_close(void *env)
{
	struct pop3_client *c = env;

	if (c->conn != NULL)
		conn_close_after_flush(c->conn, "session closed");
}

/* Connection events. */

static void on_readable(struct conn *conn, void *arg)
{
	struct pop3_client *c = arg;
	struct conn_line l;

	while (!conn_is_closing(conn) && conn_next_line(conn, &l) == 1) {
		int rc;

		trace_in(c, &l);
		rc = pop3_session_line(c->sess, &l);
		if (rc == PROTO_CLOSE) {
			conn_close_after_flush(conn, "session closed");
			return;
		}
		if (rc == PROTO_ASYNC)
			return;
	}
}

static void on_drain(struct conn *conn, void *arg)
{
	struct pop3_client *c = arg;

	(void)conn;
	ev_timer_stop(server_loop(c->srv), &c->stall);
	pop3_session_drain(c->sess);
}

static void on_timeout(struct conn *conn, void *arg)
{
	struct pop3_client *c = arg;

	/* RFC 1939 §3: autologout closes without a reply and without
	 * UPDATE. */
	log_info("%s client=%s autologout", c->sid, c->peer);
	conn_close(conn, "autologout");
}

static void on_tls_ready(struct conn *conn, void *arg)
{
	struct pop3_client *c = arg;

	log_info("%s client=%s tls=%s cipher=%s", c->sid, c->peer,
		 conn_tls_version(conn), conn_tls_cipher(conn));
	if (!c->greeted) {
		c->greeted = true;
		pop3_session_greet(c->sess);
		return;
	}
	pop3_session_tls_ready(c->sess);
}

static void on_close(struct conn *conn, void *arg,
		     enum conn_close_reason reason, const char *detail)
{
	struct pop3_client *c = arg;

	(void)conn;
	ev_timer_stop(server_loop(c->srv), &c->stall);
	if (reason != CONN_CLOSE_LOCAL && reason != CONN_CLOSE_EOF)
		log_info("%s client=%s connection closed: %s", c->sid, c->peer,
			 detail);
	c->conn = NULL;
	if (c->auth != NULL) {
		auth_cancel(c->auth);
		c->auth = NULL;
	}
	maybe_free(c);
}

static void on_shutdown(struct server_client *cl)
{
	struct pop3_client *c = (struct pop3_client *)cl;

	if (c->conn != NULL)
		pop3_session_shutdown(c->sess);
}

static void maybe_free(struct pop3_client *c)
{
	if (c->conn != NULL || c->jobs > 0)
		return;
	/* A maildrop still held is released unchanged. */
	pop3_session_free(c->sess);
	if (c->registered)
		server_client_unregister(c->srv, &c->cl);
	free(c);
}

/* Protocol trace (-t). */

static void trace_in(struct pop3_client *c, const struct conn_line *l)
{
	char masked[64];
	const char *sp;

	if (!server_trace_on(c->srv))
		return;
	if (pop3_session_secret_next(c->sess)) {
		server_trace(c->srv, c->sid, true, "***", 3);
		return;
	}
	/* PASS and AUTH arguments are secrets (an AUTH initial response
	 * holds the password): show the verb and mechanism only. */
	if (l->len >= 5 && strncasecmp(l->data, "PASS ", 5) == 0) {
		snprintf(masked, sizeof masked, "%.4s ***", l->data);
		server_trace(c->srv, c->sid, true, masked, strlen(masked));
		return;
	}
	if (l->len >= 5 && strncasecmp(l->data, "AUTH ", 5) == 0 &&
	    (sp = memchr(l->data + 5, ' ', l->len - 5)) != NULL) {
		int keep = (int)(sp - l->data);

		snprintf(masked, sizeof masked, "%.*s ***",
			 keep > 40 ? 40 : keep, l->data);
		server_trace(c->srv, c->sid, true, masked, strlen(masked));
		return;
	}
	server_trace(c->srv, c->sid, true, l->data, l->len);
}

static void trace_out(struct pop3_client *c, const char *data, size_t len)
{
	if (!server_trace_on(c->srv))
		return;
	/* Message text is not traced, only status and listing lines. */
	if (c->sess->cont == POP3_CONT_RETR) {
		return;
	}
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) + 1 : len;
		size_t show = n;

		if (show > 0 && data[show - 1] == '\n')
			show--;
		if (show > 0 && data[show - 1] == '\r')
			show--;
		server_trace(c->srv, c->sid, false, data, show);
		data += n;
		len -= n;
	}
}
