/* smtpd/transaction.h: a session's message through the message pipeline
 * (pipeline/pipeline.h), from MAIL to the end of its content
 * (smtpd/transaction.c). Each step replies itself and returns
 * PROTO_DONE, or PROTO_ASYNC with the session paused while the pipeline
 * works (its completion resumes the session). */
#ifndef KANTORPOS_SMTPD_TRANSACTION_H
#define KANTORPOS_SMTPD_TRANSACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mail/address.h"

struct params_rcpt;
struct smtp_session;

/* MAIL with the parsed path (arg: for the log), after the syntax
 * checks; a RCPT path with its parameters. */
int smtp_txn_mail(struct smtp_session *s, const struct addr_path *path,
		  const char *arg);
int smtp_txn_rcpt(struct smtp_session *s, const struct addr_path *path,
		  const struct params_rcpt *rp, const char *arg);
/* The content starts: DATA (then the 354), or the first BDAT chunk of
 * size octets (then it is read). */
int smtp_txn_data(struct smtp_session *s);
int smtp_txn_bdat(struct smtp_session *s, uint64_t size, bool last);
/* Recipients accepted so far. */
size_t smtp_txn_rcpts(const struct smtp_session *s);

/* smtp_hooks.content_wait: before taking up to want more octets of
 * content: when they would outgrow the sink's buffer, the pipeline makes
 * room on the io pool and this returns true (the session is paused until
 * then; take nothing now). False: go on. */
bool smtp_txn_content_wait(struct smtp_session *s, size_t want);
/* smtp_hooks.content: content octets from the data parser. */
void smtp_txn_content(struct smtp_session *s, const char *buf, size_t len);
/* smtp_hooks.content_end: the end of the message: reply the fault and
 * reset the transaction (PROTO_DONE), or let the pipeline decide and
 * commit (PROTO_ASYNC, session paused) and reply 250 once it is
 * durable. */
int smtp_txn_content_end(struct smtp_session *s);

#endif
