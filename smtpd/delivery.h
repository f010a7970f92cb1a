/* smtpd/delivery.h: a session's message into store/: the trace headers,
 * the Maildir delivery (or the ETRN queue's item) and its commit on the
 * worker pool (smtpd/delivery.c). */
#ifndef KANTORPOS_SMTPD_DELIVERY_H
#define KANTORPOS_SMTPD_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct smtp_session;

/* Start the message with its trace headers (at the 354, or at the first
 * BDAT), without touching the disk for a local delivery; the ETRN queue's
 * file is made here. Returns 0 with s->tx.md (or the queue item) set, or
 * -1 after replying 451/452. Never blocks on the disk for a local
 * delivery. */
int smtp_delivery_begin(struct smtp_session *s);
/* Before taking up to want more octets of content: when they would
 * outgrow the store's buffer and the message has no file yet, make the
 * file on the storage pool and return true (the session is paused until
 * then; take nothing now). False: go on. */
bool smtp_delivery_wait_file(struct smtp_session *s, size_t want);
/* Content octets from the data parser; submitted mail gets its missing
 * Date and Message-ID at the end of its header section. */
void smtp_delivery_write(struct smtp_session *s, const char *buf, size_t len);
/* The end of the message: reply the fault (content, or a From: the user
 * does not own) and reset the transaction (PROTO_DONE), or commit on the
 * worker pool (PROTO_ASYNC, session paused) and reply 250 when it is
 * durable, then resume. */
int smtp_delivery_end(struct smtp_session *s);

/* The reply for a store failure (451/452/552), and the one log line of an
 * accepted message (name: where it was stored). */
void smtp_store_error_reply(struct smtp_session *s, int md_result);
void smtp_log_accepted(struct smtp_session *s, uint64_t size,
		       const char *name);

#endif
