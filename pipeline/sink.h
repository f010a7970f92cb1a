/* pipeline/sink.h: the one interface of a sink — where a message that
 * passed the stages is written durably: the Maildirs of local users
 * (sink_maildir.c, final delivery) or the outbound queue (sink_queue.c).
 *
 * room, write and abort never block, begin only where begin_blocks says
 * so; prepare and commit do (the pipeline runs what blocks on the io
 * worker pool, or inline for tools and worker threads). Results are enum md_result values (store/maildir.h):
 * MD_OK or the error the pipeline turns into a reply. A write error is
 * sticky: later writes and the commit return it. */
#ifndef KANTORPOS_PIPELINE_SINK_H
#define KANTORPOS_PIPELINE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mail/address.h"

struct pipe_tx;

/* What a commit did. */
struct sink_outcome {
	int result;                    /* MD_OK or the error */
	int err;                       /* errno of the error, for the log */
	char failed[ADDR_KEY_SIZE];    /* the recipient (key) it belongs to,
					* "" when it is the message's own */
	char stored[256];              /* where it went, for the log */
	bool kick;                     /* queued items are due now */
};

struct sink_ops {
	const char *name;
	/* Start the message of tx (its envelope is final): *st_r on MD_OK.
	 * The Maildir sink writes Return-Path here (RFC 5321 §4.4), nothing
	 * else does. */
	int (*begin)(struct pipe_tx *tx, void **st_r);
	bool begin_blocks; /* begin touches the disk: run it on the pool */
	/* Octets write takes now without touching the disk (SIZE_MAX: no
	 * limit), and prepare, which makes that room (blocking). */
	size_t (*room)(void *st);
	int (*prepare)(void *st);
	int (*write)(void *st, const char *buf, size_t len);
	/* Octets of the message written so far, the sink's own included
	 * (Return-Path), and replacing len of them at off by as many
	 * others with the same line ends (blocking: before the commit). */
	uint64_t (*size)(void *st);
	int (*overwrite)(void *st, uint64_t off, const char *buf, size_t len);
	/* Make it durable for every recipient or for none (blocking);
	 * consumes st. */
	void (*commit)(void *st, struct pipe_tx *tx, struct sink_outcome *o);
	void (*abort)(void *st); /* NULL is fine */
};

extern const struct sink_ops sink_maildir;
extern const struct sink_ops sink_queue;

#endif
