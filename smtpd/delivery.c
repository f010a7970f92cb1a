/* smtpd/delivery.c: a message's way into store/ — the trace headers at the
 * 354 (or the first BDAT), content through the store's 64 KiB buffer (with
 * the Date and Message-ID that submitted mail lacks, and the check of its
 * From: at the end), the file made on the storage pool when the buffer is
 * outgrown (or by the commit), the durable commit on the storage pool, and
 * the 250 only once the commit returned MD_OK. Nothing on the event loop
 * waits for the disk. */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/net/conn.h"
#include "common/base/log.h"
#include "common/net/worker.h"
#include "smtpd/received.h"
#include "smtpd/reply.h"
#include "smtpd/sender.h"
#include "smtpd/session.h"
#include "smtpd/submit.h"
#include "store/maildir.h"

/* One commit on the worker pool. */
struct commit_job {
	struct smtp_session *s;
	struct md_delivery *md;
	struct md_target *targets;
	char **paths;
	size_t n;
	enum md_result result;
	size_t failed;
	int err;
	char name[256];
};

/* The reply for a store failure (RFC 5321 §4.2.5: nothing stored). */
void smtp_store_error_reply(struct smtp_session *s, int r)
{
	switch (r) {
	case MD_ERR_QUOTA:
	case MD_ERR_FSQUOTA:
		if (s->cfg->quota_permanent)
			smtp_reply(s, 552, "5.2.2", "Mailbox full");
		else
			smtp_reply(s, 452, "4.2.2", "Mailbox full, try again later");
		break;
	case MD_ERR_NOSPACE:
		smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		break;
	default:
		smtp_reply(s, 451, "4.3.0",
			   "Local error in processing, try again later");
		break;
	}
}

/* Seconds east of UTC at t, for the dates we write. */
static long utc_offset(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return tm.tm_gmtoff;
}

/* The Received block of this transaction into block; its length, or 0. */
static size_t format_received(struct smtp_session *s, char *block, size_t size)
{
	struct smtp_tx *tx = &s->tx;
	struct received_info ri = { 0 };

	ri.sender = tx->sender;
	ri.helo = s->helo;
	ri.client_ip = s->peer;
	ri.host = s->cfg->hostname;
	ri.id = tx->id;
	ri.for_rcpt = tx->n_rcpt_addrs == 1 ? tx->rcpt_addrs[0] : NULL;
	ri.tls_version = conn_tls_version(s->conn);
	ri.tls_cipher = conn_tls_cipher(s->conn);
	ri.esmtp = (s->flags & SMTP_F_EHLO) != 0;
	ri.auth = (s->flags & SMTP_F_AUTH) != 0;
	ri.auth_user = ri.auth ? s->user : NULL;
	/* RFC 5321 §4.4: only the final delivery adds Return-Path; queued
	 * mail gets it from the local route or from the next host. */
	ri.return_path = tx->n_queue == 0;
	ri.utf8 = tx->params.smtputf8;
	ri.when = time(NULL);
	ri.utc_offset = utc_offset(ri.when);
	return received_format(&ri, block, size);
}

int smtp_delivery_begin(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct smtpd *d = server_data(s->srv);
	char block[RECEIVED_MAX], *path = NULL;
	enum md_result r = MD_ERR_INVALID;
	size_t n;

	snprintf(tx->id, sizeof(tx->id), "%s.%lu", s->sid, ++d->msg_counter);
	n = format_received(s, block, sizeof(block));
	/* Submitted mail: its header section is read as it streams. */
	if (s->flags & SMTP_F_AUTH) {
		if ((tx->sub = malloc(sizeof(*tx->sub))) != NULL)
			submit_init(tx->sub);
		else
			n = 0;
	}
	if (tx->n_queue > 0) { /* ETRN: the message goes into the queue */
		if (n > 0)
			r = (enum md_result)smtp_queue_begin(s, block, n);
	} else if (n > 0 && md_path(s->cfg->data_dir, tx->rcpts[0].domain,
				    tx->rcpts[0].local, &path) == 0) {
		/* Nothing on disk yet: a message that fits the store's buffer
		 * is written whole by the commit, on the storage pool. */
		r = md_delivery_start(path, s->cfg->hostname, &tx->md);
		if (r == MD_OK)
			r = md_delivery_write(tx->md, block, n);
		free(path);
	}
	if (r != MD_OK) {
		md_delivery_abort(tx->md);
		tx->md = NULL;
		log_warnx("%s delivery start failed id=%s: %s", s->sid, tx->id,
			  md_result_str(r));
		smtp_store_error_reply(s, r);
		return -1;
	}
	return 0;
}

/* The message outgrew the store's buffer: its file is made on the storage
 * pool (creating a file waits on the file system: inode allocation, the
 * directory's lock), while the session waits with its input unread. */
struct open_job {
	struct smtp_session *s;
	enum smtp_state resume_in;
	enum md_result result;
};

static void open_run(void *arg)
{
	struct open_job *j = arg;

	j->result = md_delivery_open(j->s->tx.md);
}

static void open_done(void *arg)
{
	struct open_job *j = arg;
	struct smtp_session *s = j->s;

	s->job_running = false;
	if (s->flags & SMTP_F_CLOSED) {
		free(j);
		smtp_session_maybe_free(s);
		return;
	}
	/* Refused at the end of the data, which is still read. */
	if (j->result != MD_OK)
		s->tx.md_err = j->result;
	smtp_set_state(s, j->resume_in);
	free(j);
	smtp_resume(s);
}

bool smtp_delivery_wait_file(struct smtp_session *s, size_t want)
{
	struct smtp_tx *tx = &s->tx;
	struct open_job *j;

	/* Room for the fields submitted mail may get, too. */
	if (tx->md == NULL || tx->md_err != MD_OK ||
	    data_faults(&tx->dp) != 0 ||
	    md_delivery_room(tx->md) >= want + 2 * DATA_OUT_SLACK +
						(tx->sub != NULL ? SUBMIT_FIELDS_MAX : 0))
		return false;
	j = calloc(1, sizeof(*j));
	if (j != NULL) {
		j->s = s;
		j->resume_in = s->state;
	}
	if (j == NULL ||
	    worker_submit(server_io_worker(s->srv), open_run, open_done, j) < 0) {
		/* Busy or out of memory: the message is refused at its end. */
		free(j);
		tx->md_err = MD_ERR_IO;
		return false;
	}
	s->job_running = true;
	smtp_pause(s);
	return true;
}

/* Content into the store (or the queue), unless the message is refused. */
static void store_write(struct smtp_session *s, const char *buf, size_t len)
{
	struct smtp_tx *tx = &s->tx;
	enum md_result r;

	/* A refused message is read to its end but not written. */
	if (tx->qtx != NULL && len > 0 && tx->md_err == MD_OK &&
	    data_faults(&tx->dp) == 0) {
		smtp_queue_write(s, buf, len); /* ETRN */
		return;
	}
	if (len == 0 || tx->md == NULL || tx->md_err != MD_OK ||
	    data_faults(&tx->dp) != 0)
		return;
	r = md_delivery_write(tx->md, buf, len);
	if (r != MD_OK)
		tx->md_err = r;
}

/* Submitted mail: the Date and Message-ID it lacks (RFC 6409 §8). */
static void add_submit_fields(struct smtp_session *s)
{
	char fields[SUBMIT_FIELDS_MAX];
	time_t now = time(NULL);
	size_t n = submit_fields(s->tx.sub, s->tx.id, s->cfg->hostname, now,
				 utc_offset(now), fields, sizeof(fields));

	store_write(s, fields, n);
}

void smtp_delivery_write(struct smtp_session *s, const char *buf, size_t len)
{
	struct submit_scan *sub = s->tx.sub;
	size_t end;

	/* The fields go before the empty line, inside the header section. */
	if (sub != NULL && !sub->done && submit_feed(sub, buf, len, &end)) {
		store_write(s, buf, end);
		add_submit_fields(s);
		buf += end;
		len -= end;
	}
	store_write(s, buf, len);
}

/* Submitted mail at its end: the fields a message without a body still
 * lacks, then the sender rule for its From: (RFC 6409 §6.1). False after
 * refusing it. */
static bool submit_end(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	struct submit_scan *sub = tx->sub;
	struct smtpd *d = server_data(s->srv);
	struct sender_ctx c = { s->cfg, d->al, s->user, s->peer };
	char text[REPLY_LINE_MAX];

	if (submit_finish(sub))
		add_submit_fields(s);
	if (sub->n_from == 0 ||
	    (!sub->from_long && sender_from_owned(&c, sub->from, sub->from_len)))
		return true;
	snprintf(text, sizeof(text), "From: address not owned by user %s",
		 s->user);
	smtp_reply(s, 550, "5.7.1", "%s", text);
	smtp_log_reject(s, "DATA", tx->id, 550, text);
	smtp_tx_reset(s);
	return false;
}

void smtp_log_accepted(struct smtp_session *s, uint64_t size,
			 const char *name)
{
	struct smtp_tx *tx = &s->tx;
	char to[1024];
	size_t o = 0;

	to[0] = '\0';
	for (size_t i = 0; i < tx->n_rcpt_addrs && o < sizeof(to); i++)
		o += (size_t)snprintf(to + o, sizeof(to) - o, "%s<%s>",
				      i ? "," : "", tx->rcpt_addrs[i]);
	log_info("%s accepted id=%s from=<%s> to=%s size=%llu client=%s tls=%s auth=%s file=%s",
		 s->sid, tx->id, tx->sender, to, (unsigned long long)size,
		 s->peer, s->conn != NULL && conn_tls_version(s->conn) != NULL
				  ? conn_tls_version(s->conn) : "no",
		 (s->flags & SMTP_F_AUTH) ? s->user : "-", name);
}

static void job_free(struct commit_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->paths[i]);
	free(j->paths);
	free(j->targets);
	free(j);
}

static void commit_run(void *arg)
{
	struct commit_job *j = arg;

	j->result = md_delivery_commit(j->md, j->targets, j->n, &j->failed,
				       j->name, sizeof(j->name));
	j->err = errno;
	j->md = NULL;
}

static void commit_done(void *arg)
{
	struct commit_job *j = arg;
	struct smtp_session *s = j->s;

	s->job_running = false;
	if (s->flags & SMTP_F_CLOSED) {
		/* The client left before the answer: the message is either
		 * stored whole or not at all; it will send it again. */
		log_info("%s commit finished after disconnect id=%s result=%s",
			 s->sid, s->tx.id, md_result_str(j->result));
		job_free(j);
		smtp_session_maybe_free(s);
		return;
	}
	if (j->result == MD_OK) {
		smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", s->tx.id);
		smtp_log_accepted(s, data_size(&s->tx.dp), j->name);
	} else {
		errno = j->err;
		log_warn("%s commit failed id=%s target=%s: %s", s->sid, s->tx.id,
			 j->failed < j->n ? j->paths[j->failed] : "-",
			 md_result_str(j->result));
		smtp_store_error_reply(s, j->result);
	}
	job_free(j);
	smtp_tx_reset(s);
	smtp_set_state(s, SMTP_S_READY);
	smtp_resume(s);
}

int smtp_delivery_end(struct smtp_session *s)
{
	struct smtp_tx *tx = &s->tx;
	unsigned faults = data_faults(&tx->dp);
	struct commit_job *j;

	if (faults != 0) {
		int code;
		const char *enh, *text;

		data_fault_reply(faults, &code, &enh, &text);
		smtp_reply(s, code, enh, "%s", text);
		smtp_log_reject(s, "DATA", tx->id, code, text);
		smtp_tx_reset(s);
		return PROTO_DONE;
	}
	if (tx->sub != NULL && !submit_end(s))
		return PROTO_DONE;
	if (tx->n_queue > 0) /* ETRN */
		return smtp_queue_end(s);
	if (tx->md == NULL || tx->md_err != MD_OK) {
		log_warnx("%s write failed id=%s: %s", s->sid, tx->id,
			  md_result_str(tx->md_err));
		smtp_store_error_reply(s, tx->md_err != MD_OK ? tx->md_err : MD_ERR_IO);
		smtp_tx_reset(s);
		return PROTO_DONE;
	}
	j = calloc(1, sizeof(*j));
	if (j != NULL) {
		j->targets = calloc(tx->n_rcpts, sizeof(*j->targets));
		j->paths = calloc(tx->n_rcpts, sizeof(*j->paths));
	}
	if (j == NULL || j->targets == NULL || j->paths == NULL)
		goto fail;
	j->s = s;
	for (size_t i = 0; i < tx->n_rcpts; i++) {
		if (md_path(s->cfg->data_dir, tx->rcpts[i].domain,
			    tx->rcpts[i].local, &j->paths[i]) < 0)
			goto fail;
		j->n++;
		j->targets[i].maildir = j->paths[i];
		j->targets[i].quota_bytes = s->cfg->quota_bytes;
		j->targets[i].quota_messages = s->cfg->quota_messages;
	}
	j->md = tx->md;
	if (worker_submit(server_io_worker(s->srv), commit_run, commit_done,
			  j) < 0)
		goto fail;
	tx->md = NULL; /* the job owns it now */
	s->job_running = true;
	smtp_pause(s);
	return PROTO_ASYNC;
fail:
	log_warn("%s cannot start the commit id=%s", s->sid, tx->id);
	if (j != NULL)
		job_free(j);
	smtp_reply(s, 451, "4.3.0", "Local error in processing, try again later");
	smtp_tx_reset(s);
	return PROTO_DONE;
}
