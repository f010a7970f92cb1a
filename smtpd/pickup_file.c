/* smtpd/pickup_file.c: one drop file through the pipeline
 * (smtpd/pickup_file.h) — the checks and the envelope on the io pool, the
 * transaction's steps on the loop, the content read in pieces, the
 * bounce and the removal after the commit. */
#include "autoconf.h"

#include "smtpd/pickup_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/config/config.h"
#include "common/net/worker.h"
#include "common/runtime/server.h"
#include "outbound/dsn.h"
#include "pipeline/pipeline.h"
#include "pipeline/sender.h"
#include "smtpd/outq.h"
#include "smtpd/pickup_bounce.h"
#include "smtpd/refresh.h"
#include "store/drop.h"
#include "store/drop_env.h"
#include "store/maildir.h"

/* Octets of content read at a time: well below the sink's buffer. */
#define PICKUP_PIECE (32 * 1024)
/* Octets read at a time while looking for the end of the envelope. */
#define PICKUP_ENV_STEP (64 * 1024)
/* Most of the header section a bounce returns. */
#define PICKUP_HEADERS_MAX (64 * 1024)

enum pf_step { PF_MAIL, PF_RCPT, PF_BEGIN, PF_RESERVE, PF_END };

struct pickup_file {
	struct server *srv;
	struct smtpd *d;
	pickup_file_cb *done;
	void *done_arg;
	char name[DROP_NAME_SIZE];
	char *dir;
	const struct config *cfg; /* pinned for the file's life */
	struct server_cfgref *pin;
	char sid[SERVER_SID_SIZE];
	/* What the io pool found. */
	int dirfd, fd;
	struct stat st;
	char user[64];
	unsigned long uid;
	struct drop_env env;
	struct addr_path from;  /* the sender it gets */
	const char *why;        /* set aside: why */
	bool removed;           /* ... removed rather than moved into bad/ */
	bool gone, failed, expired;
	int err;
	/* The transaction. */
	struct smtpd_refresh *refresh;
	struct pipe_env penv;
	struct pipe_tx *tx;
	enum pf_step step;
	size_t next;            /* the next recipient of env */
	struct pickup_refused *refused;
	size_t n_refused;
	off_t pos;              /* the next content octet in the file */
	char *piece;
	ssize_t piece_len;      /* -1: a read error */
	/* The end. */
	bool delivered;
	bool keep;              /* the bounce failed and nothing was stored */
	struct pickup_bounce_to bounce_to;
	int remove_err;
	char dsn[256];          /* where the bounce went, "" for none */
};

static void tx_cb(struct pipe_tx *tx, void *arg);
static void rcpts(struct pickup_file *f);
static void read_next(struct pickup_file *f);
static void finish(struct pickup_file *f);

static void pf_free(struct pickup_file *f)
{
	pipe_tx_free(f->tx);
	drop_env_free(&f->env);
	for (size_t i = 0; i < f->n_refused; i++)
		free(f->refused[i].addr);
	free(f->refused);
	if (f->fd >= 0)
		close(f->fd);
	if (f->dirfd >= 0)
		close(f->dirfd);
	if (f->pin != NULL)
		server_config_unpin(f->srv, f->pin);
	free(f->bounce_to.targets);
	free(f->piece);
	free(f->dir);
	free(f);
}

/* The end of the file's run, with its result (loop thread). */
static void pf_end(struct pickup_file *f, enum pickup_result result)
{
	pickup_file_cb *done = f->done;
	void *arg = f->done_arg;

	pf_free(f);
	done(arg, result);
}

/* ---- on the io pool: the checks and the envelope ---- */

/* The owner's account name; false when it has none. */
static bool owner_name(struct pickup_file *f)
{
	struct passwd pw, *res = NULL;
	char buf[16384];

	f->uid = (unsigned long)f->st.st_uid;
	if (getpwuid_r(f->st.st_uid, &pw, buf, sizeof(buf), &res) != 0 ||
	    res == NULL || strlen(pw.pw_name) >= sizeof(f->user))
		return false;
	snprintf(f->user, sizeof(f->user), "%s", pw.pw_name);
	return true;
}

/* Read and parse the envelope: 1, or 0 with why set, or -1 (I/O). */
static int read_env(struct pickup_file *f)
{
	char *buf = NULL, *grown;
	size_t len = 0;
	int rc = 0;

	while (rc == 0 && f->why == NULL) {
		ssize_t n;

		if ((grown = realloc(buf, len + PICKUP_ENV_STEP)) == NULL) {
			rc = -1;
			break;
		}
		buf = grown;
		n = pread(f->fd, buf + len, PICKUP_ENV_STEP, (off_t)len);
		if (n < 0) {
			rc = -1;
			break;
		}
		len += (size_t)n;
		rc = drop_env_parse(buf, len, &f->env, &f->why);
		if (rc == 0 && n == 0)
			f->why = "its envelope is cut short";
	}
	f->err = errno;
	free(buf);
	return rc < 0 && f->why == NULL ? -1 : rc;
}

/* The sender: the owner's own address unless it asked for another it may
 * use. False with why set when it may not. */
static bool choose_sender(struct pickup_file *f)
{
	char own[ADDR_TEXT_SIZE], asked[ADDR_TEXT_SIZE] = "";
	const struct drop_env *e = &f->env;
	int n = snprintf(own, sizeof(own), "%s@%s", f->user,
			 f->cfg->sendmail_domain);

	memset(&f->from, 0, sizeof(f->from));
	if (!e->has_sender) {
		if (n < 0 || addr_parse_mailbox(own, (size_t)n, ADDR_OPT_UTF8,
					       &f->from.mailbox, NULL) < 0) {
			f->why = "its owner's name is not an address";
			return false;
		}
		return true;
	}
	if (!e->null_sender)
		addr_mailbox_text(&e->sender, asked, sizeof(asked));
	if (!sender_local_allowed(f->cfg, f->user, f->uid,
				  (unsigned long)geteuid(), asked)) {
		f->why = "it asks for a sender its owner may not use";
		return false;
	}
	f->from.mailbox = e->sender;
	f->from.flags = e->null_sender ? ADDR_PATH_NULL : 0;
	return true;
}

static void open_run(void *arg)
{
	struct pickup_file *f = arg;

	f->dirfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		f->failed = true;
		f->err = errno;
		return;
	}
	f->fd = drop_open(f->dirfd, f->name, &f->st, &f->why);
	if (f->fd < 0 && f->why == NULL) {
		f->gone = errno == ENOENT;
		f->failed = !f->gone;
		f->err = errno;
		return;
	}
	if (f->fd >= 0 && !owner_name(f))
		f->why = "its owner has no account";
	if (f->fd >= 0 && f->why == NULL && read_env(f) < 0) {
		f->failed = true;
		return;
	}
	if (f->why == NULL && choose_sender(f)) {
		f->expired = time(NULL) - f->st.st_mtime >
			     (time_t)f->cfg->queue_lifetime;
		f->pos = (off_t)f->env.len;
		return;
	}
	if (drop_set_aside(f->dirfd, f->name, &f->removed) < 0)
		f->err = errno;
}

/* ---- on the loop: the transaction ---- */

/* Note recipient addr as refused for good with reply r. */
static void refuse(struct pickup_file *f, const char *addr,
		   const struct pipe_reply *r)
{
	struct pickup_refused *grown = realloc(f->refused,
					       (f->n_refused + 1) *
						       sizeof(*grown));

	if (grown == NULL)
		return; /* its bounce is lost: logged at the end */
	f->refused = grown;
	grown[f->n_refused].addr = strdup(addr);
	grown[f->n_refused].reply = *r;
	if (grown[f->n_refused].addr != NULL)
		f->n_refused++;
}

/* Every recipient of the envelope refused with r (before any was taken,
 * or expired). */
static void refuse_all(struct pickup_file *f, const struct pipe_reply *r)
{
	char addr[ADDR_TEXT_SIZE];

	for (size_t i = 0; i < f->env.n_rcpts; i++) {
		snprintf(addr, sizeof(addr), "%s@%s", f->env.rcpts[i].local,
			 f->env.rcpts[i].domain);
		refuse(f, addr, r);
	}
}

/* A temporary failure: the file stays for a later try. */
static void defer(struct pickup_file *f, const char *what,
		  const struct pipe_reply *r)
{
	log_info("pickup %s %s deferred at %s: %d %s", f->sid, f->name, what,
		 r->code, r->text);
	pf_end(f, PICKUP_DEFER);
}

/* A step's reply: true to go on; a temporary failure ends the run, a
 * refusal of the whole message bounces every recipient. */
static bool step_ok(struct pickup_file *f, const char *what)
{
	const struct pipe_reply *r = pipe_tx_reply(f->tx);

	if (r->code < 300)
		return true;
	if (r->code < 500) {
		defer(f, what, r);
		return false;
	}
	refuse_all(f, r);
	finish(f);
	return false;
}

/* What the pipeline uses, as it is now: a reload replaces the aliases
 * (the config stays pinned). */
static void refresh_env(struct pickup_file *f)
{
	f->penv.cfg = f->cfg;
	f->penv.db = server_userdb(f->srv);
	f->penv.al = f->d->al;
	f->penv.io = server_io_worker(f->srv);
	f->penv.queue = smtpd_outq_queue(f->d);
	f->penv.kick = smtpd_outq_kick;
	f->penv.kick_arg = f->d;
}

static void tx_start(struct pickup_file *f)
{
	struct pipe_client client = { .local_uid = f->uid };
	struct pipe_facts facts = { PIPE_SENDMAIL, &client, f->sid };
	struct pipe_mail mail = {
		.body = f->env.eightbit ? PIPE_BODY_8BITMIME : PIPE_BODY_7BIT,
		.smtputf8 = (f->from.mailbox.flags & ADDR_MB_UTF8) != 0,
	};

	for (size_t i = 0; i < f->env.n_rcpts; i++)
		if (f->env.rcpts[i].flags & ADDR_MB_UTF8)
			mail.smtputf8 = true;
	snprintf(client.local_user, sizeof(client.local_user), "%s", f->user);
	refresh_env(f);
	f->tx = pipe_tx_new(&f->penv, &facts, tx_cb, f);
	if (f->tx == NULL) {
		log_warnx("pickup %s %s: out of memory", f->sid, f->name);
		pf_end(f, PICKUP_DEFER);
		return;
	}
	f->step = PF_MAIL;
	if (pipe_tx_mail(f->tx, &f->from, &mail) == PIPE_DONE &&
	    step_ok(f, "MAIL"))
		rcpts(f);
}

/* The reply to the recipient just given: true to go on. */
static bool rcpt_done(struct pickup_file *f)
{
	const struct pipe_reply *r = pipe_tx_reply(f->tx);
	const struct addr_mailbox *mb = &f->env.rcpts[f->next - 1];
	char addr[ADDR_TEXT_SIZE];

	if (r->code < 300)
		return true;
	if (r->code < 500) {
		defer(f, "RCPT", r);
		return false;
	}
	snprintf(addr, sizeof(addr), "%s@%s", mb->local, mb->domain);
	log_info("pickup %s rejected to=<%s>: %d %s %s", f->sid, addr, r->code,
		 r->enh != NULL ? r->enh : "-", r->text);
	refuse(f, addr, r);
	return true;
}

/* The recipients, then the content (or the bounce when none is left). */
static void rcpts(struct pickup_file *f)
{
	while (f->next < f->env.n_rcpts) {
		struct addr_path path = { .mailbox = f->env.rcpts[f->next++] };

		f->step = PF_RCPT;
		refresh_env(f);
		if (pipe_tx_rcpt(f->tx, &path) == PIPE_WAIT || !rcpt_done(f))
			return;
	}
	if (pipe_tx_msg(f->tx)->n_rcpts == 0) {
		finish(f);
		return;
	}
	f->step = PF_BEGIN;
	refresh_env(f);
	if (pipe_tx_begin(f->tx, f->sid) == PIPE_DONE && step_ok(f, "begin"))
		read_next(f);
}

/* ---- the content, read on the io pool ---- */

static void read_run(void *arg)
{
	struct pickup_file *f = arg;

	f->piece_len = pread(f->fd, f->piece, PICKUP_PIECE, f->pos);
}

static void end(struct pickup_file *f);

/* A piece is in: into the transaction once there is room for it. */
static void read_done(void *arg)
{
	struct pickup_file *f = arg;

	if (f->piece_len < 0)
		pipe_tx_fail(f->tx, MD_ERR_IO);
	if (f->piece_len <= 0) {
		end(f);
		return;
	}
	f->step = PF_RESERVE;
	if (pipe_tx_reserve(f->tx, (size_t)f->piece_len) == PIPE_WAIT)
		return;
	pipe_tx_write(f->tx, f->piece, (size_t)f->piece_len);
	f->pos += f->piece_len;
	read_next(f);
}

static void read_next(struct pickup_file *f)
{
	if (f->piece == NULL && (f->piece = malloc(PICKUP_PIECE)) == NULL)
		f->piece_len = -1;
	else if (worker_submit(server_io_worker(f->srv), read_run, read_done,
			       f) == 0)
		return;
	pipe_tx_fail(f->tx, MD_ERR_IO);
	end(f);
}

static void log_accepted(struct pickup_file *f)
{
	const struct pipe_msg *m = pipe_tx_msg(f->tx);
	char to[1024] = "";
	size_t o = 0;

	for (size_t i = 0; i < m->n_rcpts && o < sizeof(to); i++)
		if (m->rcpts[i].state == PIPE_RCPT_ACCEPTED)
			o += (size_t)snprintf(to + o, sizeof(to) - o, "%s<%s>",
					      o > 0 ? "," : "",
					      m->rcpts[i].addr);
	log_info("%s accepted id=%s from=<%s> to=%s size=%llu client=local "
		 "user=%s uid=%lu drop=%s file=%s%s%s", f->sid, m->id,
		 m->sender, to, (unsigned long long)pipe_tx_size(f->tx),
		 f->user, f->uid, f->name, pipe_tx_stored(f->tx),
		 m->notes[0] != '\0' ? " " : "", m->notes);
}

/* The commit's outcome: stored (bounce the refused ones, remove), or
 * refused for good (bounce all), or a temporary failure (keep). */
static void end_done(struct pickup_file *f)
{
	const struct pipe_reply *r = pipe_tx_reply(f->tx);
	const struct pipe_msg *m = pipe_tx_msg(f->tx);
	bool temp = r->code < 500;

	if (r->code < 300) {
		f->delivered = true;
		log_accepted(f);
		finish(f);
		return;
	}
	/* A temporary failure of one stored nothing for the others. */
	for (size_t i = 0; i < m->n_rcpts; i++)
		temp = temp || m->rcpts[i].state == PIPE_RCPT_TEMPFAIL;
	if (temp) {
		defer(f, "the end", r);
		return;
	}
	for (size_t i = 0; i < m->n_rcpts; i++)
		if (m->rcpts[i].state == PIPE_RCPT_REJECTED)
			refuse(f, m->rcpts[i].addr, &m->rcpts[i].reply);
	finish(f);
}

static void end(struct pickup_file *f)
{
	f->step = PF_END;
	refresh_env(f);
	if (pipe_tx_end(f->tx) == PIPE_DONE)
		end_done(f);
}

/* A step that waited is done. */
static void tx_cb(struct pipe_tx *tx, void *arg)
{
	struct pickup_file *f = arg;

	(void)tx;
	switch (f->step) {
	case PF_MAIL:
		if (step_ok(f, "MAIL"))
			rcpts(f);
		break;
	case PF_RCPT:
		if (rcpt_done(f))
			rcpts(f);
		break;
	case PF_BEGIN:
		if (step_ok(f, "begin"))
			read_next(f);
		break;
	case PF_RESERVE:
		pipe_tx_write(f->tx, f->piece, (size_t)f->piece_len);
		f->pos += f->piece_len;
		read_next(f);
		break;
	case PF_END:
		end_done(f);
		break;
	}
}

/* ---- the end: the bounce and the removal, on the io pool ---- */

/* The sender as text for the bounce; "" for <>. */
static void sender_text(const struct pickup_file *f, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!(f->from.flags & ADDR_PATH_NULL))
		addr_mailbox_text(&f->from.mailbox, buf, size);
}

static void bounce_run(struct pickup_file *f)
{
	char sender[ADDR_TEXT_SIZE], *headers = malloc(PICKUP_HEADERS_MAX);
	ssize_t got = headers != NULL ? pread(f->fd, headers,
					      PICKUP_HEADERS_MAX,
					      (off_t)f->env.len)
				      : -1;
	struct pickup_bounce b = {
		.to = &f->bounce_to, .cfg = f->cfg, .db = f->penv.db, .queue = f->penv.queue,
		.sender = sender, .id = f->sid, .arrival = f->st.st_mtime,
		.now = time(NULL), .expired = f->expired, .headers = headers,
		.headers_len = got > 0 ? dsn_header_len(headers, (size_t)got)
				       : 0,
		.refused = f->refused, .n_refused = f->n_refused,
	};

	sender_text(f, sender, sizeof(sender));
	if (sender[0] != '\0' && f->bounce_to.route != PIPE_ROUTE_NONE &&
	    pickup_bounce(&b, f->dsn, sizeof(f->dsn)) < 0 && !f->delivered)
		f->keep = true;
	free(headers);
}

static void finish_run(void *arg)
{
	struct pickup_file *f = arg;

	if (f->n_refused > 0)
		bounce_run(f);
	if (f->keep || drop_remove(f->dirfd, f->name) == 0)
		return;
	/* Never to be delivered twice: set aside if it cannot go. */
	f->remove_err = errno;
	if (drop_set_aside(f->dirfd, f->name, &f->removed) == 0)
		f->remove_err = 0;
}

static void finish_done(void *arg)
{
	struct pickup_file *f = arg;
	char sender[ADDR_TEXT_SIZE];

	sender_text(f, sender, sizeof(sender));
	if (f->n_refused > 0 && f->dsn[0] != '\0') {
		log_info("pickup %s bounced to=<%s> recipients=%zu dsn=%s",
			 f->sid, sender, f->n_refused, f->dsn);
		smtpd_outq_kick(f->d);
	} else if (f->n_refused > 0) {
		log_warnx("pickup %s %s: no bounce for %zu recipients%s",
			  f->sid, f->name, f->n_refused,
			  sender[0] == '\0' ? " (null sender)"
			  : f->bounce_to.route == PIPE_ROUTE_NONE
				  ? " (nobody has the sender's address)"
			  : f->keep ? "; kept for a later try"
				    : " (the message itself was stored)");
	}
	if (f->remove_err != 0)
		log_errorx("pickup %s %s: cannot remove it or set it aside: %s; "
			   "not taken again until a restart", f->sid, f->name,
			   strerror(f->remove_err));
	pf_end(f, f->keep ? PICKUP_DEFER
		  : f->remove_err != 0 ? PICKUP_STUCK : PICKUP_DONE);
}

static void finish(struct pickup_file *f)
{
	char sender[ADDR_TEXT_SIZE];

	pipe_tx_free(f->tx);
	f->tx = NULL;
	/* Where a bounce goes is decided here: the aliases are the loop's. */
	sender_text(f, sender, sizeof(sender));
	if (f->n_refused > 0 && sender[0] != '\0') {
		refresh_env(f);
		pickup_bounce_route(f->cfg, f->penv.db, f->penv.al, sender,
				    &f->bounce_to);
	}
	if (worker_submit(server_io_worker(f->srv), finish_run, finish_done,
			  f) < 0) {
		log_warnx("pickup %s %s: the io pool is busy", f->sid, f->name);
		pf_end(f, f->delivered ? PICKUP_DONE : PICKUP_DEFER);
	}
}

/* ---- the start ---- */

static void refreshed(void *arg)
{
	struct pickup_file *f = arg;

	f->refresh = NULL;
	tx_start(f);
}

static void open_done(void *arg)
{
	struct pickup_file *f = arg;
	static const struct pipe_reply expired = {
		554, "4.4.7", "Message expired: it waited in the drop "
			      "directory longer than queue_lifetime" };

	if (f->gone) {
		pf_end(f, PICKUP_GONE);
	} else if (f->failed) {
		log_warnx("pickup %s/%s: %s", f->dir, f->name, strerror(f->err));
		pf_end(f, PICKUP_DEFER);
	} else if (f->why != NULL) {
		log_warnx("pickup %s/%s %s: %s (owner uid %lu)", f->dir, f->name,
			  f->removed ? "removed" : "moved into " DROP_BAD_DIR "/",
			  f->why, (unsigned long)f->st.st_uid);
		pf_end(f, PICKUP_ASIDE);
	} else if (f->expired) {
		refresh_env(f);
		refuse_all(f, &expired);
		finish(f);
	} else if ((f->refresh = smtpd_refresh_start(f->srv, refreshed, f)) ==
		   NULL) {
		tx_start(f);
	}
}

int pickup_file_run(struct server *srv, struct smtpd *d, const char *dir,
		    const char *name, pickup_file_cb *done, void *arg)
{
	struct pickup_file *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = strdup(dir)) == NULL) {
		free(f);
		return -1;
	}
	f->srv = srv;
	f->d = d;
	f->done = done;
	f->done_arg = arg;
	f->dirfd = f->fd = -1;
	snprintf(f->name, sizeof(f->name), "%s", name);
	server_new_sid(srv, f->sid);
	f->pin = server_config_pin(srv, &f->cfg);
	if (f->pin != NULL &&
	    worker_submit(server_io_worker(srv), open_run, open_done, f) == 0)
		return 0;
	pf_free(f);
	return -1;
}
