/* common/runtime/auth.c: one login attempt: throttle check on the loop, the
 * user db made current on the storage pool, Argon2id on the CPU pool, the
 * failure delay on an ev_timer, the log line, and the completion back on
 * the loop thread. */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "common/mail/address.h"
#include "common/runtime/auth.h"
#include "common/base/log.h"
#include "common/base/log_escape.h"
#include "common/net/net.h"
#include "common/users/password.h"
#include "common/runtime/server.h"
#include "common/runtime/server_userdb.h"
#include "common/users/throttle.h"
#include "common/users/userdb.h"
#include "common/net/worker.h"

/* Wait before retrying a full worker queue. */
#define AUTH_RETRY_DELAY 0.05
/* Longest user name shown in the log. */
#define AUTH_LOG_USER_MAX 128

struct auth {
	struct server *srv;
	struct ev_loop *loop;
	auth_done_fn *done;
	void *arg;
	const char *mech;
	char *user;
	char *pw;
	size_t pwlen;
	char peer[NET_ADDRSTRLEN];
	char sid[SERVER_SID_SIZE];
	/* What the worker uses; set on the loop before submitting. */
	struct userdb *db;
	unsigned long long opslimit;
	size_t memlimit;
	/* The worker's answer. */
	int rc;
	const char *why;
	enum auth_result result;
	char mailbox[ADDR_KEY_SIZE];
	ev_timer timer;
	struct server_userdb_wait *refresh; /* the user db is being read */
	bool in_worker; /* the pool owns it until job_done */
	bool verifying; /* the timer retries a submit (else it completes) */
	bool cancelled;
};

static void submit(struct auth *a);
static void refreshed(void *arg, int rc);
static void job(void *arg);
static void job_done(void *arg);
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void complete_later(struct auth *a, double delay);
static void finish(struct auth *a);
static void auth_free(struct auth *a);
static void log_attempt(const struct auth *a, enum log_level level,
			const char *result, const char *why);

struct auth *auth_start(struct server *srv, const char *peer,
			const char *sid, const char *mech, const char *user,
			const char *pw, size_t pwlen, auth_done_fn *done,
			void *arg)
{
	struct auth *a = calloc(1, sizeof *a);

	if (a == NULL)
		return NULL;
	a->srv = srv;
	a->loop = server_loop(srv);
	a->done = done;
	a->arg = arg;
	a->mech = mech;
	a->user = strdup(user);
	/* +1: the worker sees a NUL-terminated copy, harmless either way. */
	a->pw = malloc(pwlen + 1);
	if (a->user == NULL || a->pw == NULL) {
		free(a->user);
		free(a->pw);
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(a->pw, pw, pwlen);
	a->pw[pwlen] = '\0';
	a->pwlen = pwlen;
	snprintf(a->peer, sizeof a->peer, "%s", peer);
	snprintf(a->sid, sizeof a->sid, "%s", sid);
	ev_init(&a->timer, on_timer);
	a->timer.data = a;

	/* RFC 8314 4.1: a throttled attempt gets the same answer whatever
	 * the password, so it is not checked at all. */
	if (!throttle_allowed(server_throttle(srv), a->peer, ev_now(a->loop))) {
		a->result = AUTH_THROTTLED;
		log_attempt(a, LOG_LVL_WARN, "throttled", NULL);
		complete_later(a, 0);
		return a;
	}
	/* A user added a moment ago can log in: the file is looked at (and
	 * parsed when it changed) on the storage pool first. */
	a->refresh = server_userdb_wait(srv, false, refreshed, a);
	if (a->refresh == NULL)
		submit(a); /* out of memory: the db as loaded */
	return a;
}

/* The user db is current (or stays as it was, logged): verify. */
static void refreshed(void *arg, int rc)
{
	struct auth *a = arg;

	(void)rc;
	a->refresh = NULL;
	submit(a);
}

void auth_cancel(struct auth *a)
{
	if (a == NULL)
		return;
	if (a->in_worker) {
		/* job_done frees it once the verification has returned. */
		a->cancelled = true;
		return;
	}
	server_userdb_cancel(a->srv, a->refresh);
	ev_timer_stop(a->loop, &a->timer);
	auth_free(a);
}

static void submit(struct auth *a)
{
	const struct config *cfg = server_config(a->srv);

	a->db = server_userdb(a->srv);
	a->opslimit = cfg->password_opslimit;
	a->memlimit = cfg->password_memlimit;
	a->in_worker = true;
	/* The CPU pool: nothing here waits on the disk. */
	if (worker_submit(server_worker(a->srv), job, job_done, a) == 0)
		return;
	a->in_worker = false;
	if (errno == EAGAIN) {
		/* Back-pressure: never block the loop, try again soon. */
		a->verifying = true;
		ev_timer_set(&a->timer, AUTH_RETRY_DELAY, 0.);
		ev_timer_start(a->loop, &a->timer);
		return;
	}
	a->result = AUTH_ERROR;
	log_attempt(a, LOG_LVL_ERROR, "error", strerror(errno));
	complete_later(a, 0);
}

/* On a pool thread. */
static void job(void *arg)
{
	struct auth *a = arg;

	a->why = NULL;
	if (a->db != NULL)
		a->rc = userdb_verify(a->db, a->user, a->pw, a->pwlen, NULL,
				      &a->why);
	else /* no user db yet: every user is unknown, at the same cost */
		a->rc = password_verify_dummy(a->pw, a->pwlen, a->opslimit,
					      a->memlimit);
	sodium_memzero(a->pw, a->pwlen);
}

/* Back on the loop thread. */
static void job_done(void *arg)
{
	struct auth *a = arg;
	struct throttle *t = server_throttle(a->srv);
	const struct config *cfg = server_config(a->srv);
	const char *why = NULL;
	bool limited = false;
	double delay = 0;

	a->in_worker = false;
	if (a->cancelled) {
		auth_free(a);
		return;
	}
	if (a->rc == 1 &&
	    addr_key_from_string(a->user, a->mailbox, sizeof a->mailbox,
				 &why) == 0) {
		a->result = AUTH_OK;
		throttle_success(t, a->peer);
		log_attempt(a, LOG_LVL_INFO, "ok", NULL);
	} else if (a->rc == 0) {
		a->result = AUTH_FAIL;
		delay = throttle_fail(t, a->peer, ev_now(a->loop), &limited);
		log_attempt(a, LOG_LVL_WARN, "fail", NULL);
		if (limited)
			log_warnx("%s client=%s login failures reached %llu: "
				  "further logins refused for up to %us",
				  a->sid, a->peer, cfg->login_fail_limit,
				  cfg->login_fail_window);
		/* Some jitter so the delay tells nothing exact. */
		if (delay > 0)
			delay += delay * randombytes_uniform(1000) / 10000.0;
	} else {
		a->result = AUTH_ERROR;
		log_attempt(a, LOG_LVL_ERROR, "error", why != NULL ? why :
					a->why != NULL ? a->why : "unknown");
	}
	if (delay > 0)
		complete_later(a, delay);
	else
		finish(a);
}

static void complete_later(struct auth *a, double delay)
{
	a->verifying = false;
	ev_timer_set(&a->timer, delay, 0.);
	ev_timer_start(a->loop, &a->timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct auth *a = w->data;

	(void)loop;
	(void)revents;
	if (a->verifying)
		submit(a);
	else
		finish(a);
}

static void finish(struct auth *a)
{
	a->done(a->arg, a->result, a->result == AUTH_OK ? a->mailbox : NULL);
	auth_free(a);
}

static void auth_free(struct auth *a)
{
	sodium_memzero(a->pw, a->pwlen);
	free(a->pw);
	free(a->user);
	free(a);
}

/* One line per attempt, in the one format the fail2ban filter matches;
 * the user name is client input, so it is escaped into one bounded token. */
static void log_attempt(const struct auth *a, enum log_level level,
			const char *result, const char *why)
{
	char user[AUTH_LOG_USER_MAX + 1];
	const char *service =
		server_ops(a->srv)->proto == CONFIG_PROTO_SMTP ? "smtp" : "pop3";

	log_escape_token(user, AUTH_LOG_USER_MAX, a->user);
	log_msg(level, "%s login user=%s client=%s result=%s service=%s "
		"mechanism=%s%s%s%s", a->sid, user, a->peer, result, service,
		a->mech, why != NULL ? " reason=\"" : "", why != NULL ? why : "",
		why != NULL ? "\"" : "");
}
