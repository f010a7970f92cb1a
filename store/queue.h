/* store/queue.h: the durable outbound queue under DATA/queue/ — mail held
 * for ETRN domains, mail for the relay host, and delivery status
 * notifications waiting to go out.
 *
 * Layout: one directory per item, holding the message ("msg"; the items of
 * one commit share it as hard links), its envelope ("env",
 * store/queue_env.h) and its lock file ("lock", made on first lock):
 *   DATA/queue/tmp/<id>/       being written, or being removed
 *   DATA/queue/items/<id>/     committed items
 * Commit (the point after which SMTP may answer 250): the message is
 * written and fsynced, the envelope written and fsynced, the staging
 * directory fsynced, renamed into items/ and items/ fsynced. A crash before
 * that rename leaves only tmp/ leftovers (queue_recover removes them);
 * after it the item is complete. Envelope updates replace "env" by rename
 * (fsync file, rename, fsync the item directory). Removal renames the item
 * back into tmp/ (atomic, fsynced) before deleting its files.
 *
 * Locks: queue_lock takes a non-blocking OFD lock (fcntl F_OFD_SETLK) on
 * the item's lock file (not on msg, which the items of one commit share),
 * so a runner in kantorpos-smtpd and `kantorpos queue`
 * never work on one item at once, across threads and processes (and NFSv4
 * hosts). A process that dies loses its locks: an item in flight during a
 * crash is simply retried (possibly delivered twice, never lost).
 *
 * The handle holds tmp/ and items/ open and reaches every item from them
 * with fs_openat_safe (common/base/fsutil.h): a link in the queue is refused
 * (ELOOP), never followed; recovery removes one in tmp/ as a leftover.
 *
 * Every function blocks on the file system (fsync): call them from the
 * worker pool or from tools. A queue handle may be shared between threads;
 * a tx or an item belongs to one thread at a time.
 * Return convention: 0 success, -1 error with errno; try-operations
 * 1/0/-1. */
#ifndef KANTORPOS_STORE_QUEUE_H
#define KANTORPOS_STORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/queue_env.h"

struct queue;
struct queue_tx;
struct queue_item;

/* Open (creating with mode 0700 when missing, durably) DATA/queue.
 * host goes into the unique ids (NULL: gethostname()). Returns 0 with
 * *q_r, or -1 (errno). */
int queue_open(const char *data_dir, const char *host, struct queue **q_r);

/* Close a queue handle; NULL is fine. Items and txs must be gone. */
void queue_free(struct queue *q);

/* The queue directory (".../queue"), owned by q. */
const char *queue_path(const struct queue *q);

/* Remove what crashes left in tmp/: staging directories older than
 * max_age seconds (0: all of them — only when no writer can be running,
 * e.g. at daemon start before listening) and every half-removed item.
 * *removed_r (may be NULL) gets the count. Returns 0 or -1 (errno; the
 * others are still tried). */
int queue_recover(struct queue *q, time_t max_age, size_t *removed_r);

/* Start a new message: a staging directory with an O_EXCL message file.
 * Returns 0 with *tx_r (the caller's until commit or abort) or -1. */
int queue_tx_begin(struct queue *q, struct queue_tx **tx_r);

/* Append len bytes of the message (buffered, binary-safe). An error is
 * sticky: later writes and the commit fail with the same errno, so a caller
 * can keep consuming its input and answer at the end. Returns 0 or -1. */
int queue_tx_write(struct queue_tx *tx, const void *buf, size_t len);

/* Replace len octets already written at offset off by as many others
 * (a field whose value is only known at the end). Returns 0, or -1 with
 * errno, sticky as for queue_tx_write (EINVAL: octets not written yet).
 * Blocking when they are in the file already. */
int queue_tx_overwrite(struct queue_tx *tx, uint64_t off, const void *buf,
		       size_t len);

/* Octets queue_tx_write takes without writing to the file: the room left
 * in its buffer. Never blocks. */
size_t queue_tx_room(const struct queue_tx *tx);

/* Write what the buffer holds into the file, leaving it empty (room is
 * then the whole buffer). Returns 0, or -1 with the sticky error.
 * Blocking: for the storage pool. */
int queue_tx_flush(struct queue_tx *tx);

/* Bytes written so far. */
uint64_t queue_tx_size(const struct queue_tx *tx);

/* Make the message durable as n items (one per route domain; n >= 1),
 * all-or-nothing: envs[i] is written as the envelope of item i, and
 * envs[i].id receives its id. When any step fails, no item of this tx is
 * left in items/. Consumes tx in every case. Returns 0 or -1 (errno:
 * ENOSPC/EDQUOT for a full disk, EIO, EINVAL for an empty envelope). */
int queue_tx_commit(struct queue_tx *tx, struct queue_env *envs, size_t n);

/* Give up a message: remove its staging files and free tx. NULL is fine. */
void queue_tx_abort(struct queue_tx *tx);

/* Called by queue_walk for each committed item, with a snapshot of its
 * envelope read without a lock (it may be gone or locked by the time the
 * caller acts). Return 0 to go on, anything else to stop the walk (that
 * value is returned by queue_walk). */
typedef int queue_walk_fn(const struct queue_env *env, void *arg);

/* Visit every item whose route domain matches domain (queue_domain_match;
 * NULL: every item), in id order (arrival order). Items that vanish during
 * the walk are skipped; an unreadable envelope is logged and skipped.
 * Returns 0, the callback's non-zero value, or -1 (errno). */
int queue_walk(struct queue *q, const char *domain, bool subdomains,
	       queue_walk_fn *fn, void *arg);

/* Count the items queue_walk would visit. Returns the count or -1. */
long queue_count(struct queue *q, const char *domain, bool subdomains);

/* Size in bytes of the message of item id, without locking it. Returns 0,
 * or -1 (ENOENT: no such item). */
int queue_msg_size(struct queue *q, const char *id, uint64_t *size_r);

/* Try to lock item id and read its envelope. Returns 1 with *it_r, 0 when
 * another process or thread holds it or it no longer exists, -1 on error
 * (EINVAL for an id that is not a plain name). */
int queue_lock(struct queue *q, const char *id, struct queue_item **it_r);

/* The locked item's envelope: the caller may change it and then write it
 * with queue_item_update. Owned by the item. */
struct queue_env *queue_item_env(struct queue_item *it);

/* Read-only descriptor of the message (use pread); owned by the item. */
int queue_item_fd(const struct queue_item *it);

/* Message size in bytes. */
uint64_t queue_item_size(const struct queue_item *it);

/* Write the item's envelope atomically (tmp file, fsync, rename, fsync the
 * item directory). On failure the old envelope stays. Returns 0 or -1. */
int queue_item_update(struct queue_item *it);

/* Remove the item durably and free it (its lock goes with it). Returns 0,
 * or -1 (the item stays queued and still belongs to the caller). */
int queue_item_remove(struct queue_item *it);

/* Drop the lock and free the item; NULL is fine. */
void queue_item_release(struct queue_item *it);

#endif
