/* smtpd/outq.h (ETRN): the outbound queue in the daemon — start (queue,
 * runner), reload, stop and cleanup hooks of smtpd/daemon.c; the ETRN
 * command; forgetting a pending ETRN when its session closes; queued
 * transactions: begin (at 354 or the first BDAT, instead of a Maildir
 * delivery), write, and the end (commit on the worker pool, then 250). */
#ifndef KANTORPOS_SMTPD_OUTQ_H
#define KANTORPOS_SMTPD_OUTQ_H

#include <stddef.h>

struct server;
struct smtp_session;
struct smtpd;

int smtpd_outq_start(struct server *srv, struct smtpd *d);
void smtpd_outq_reload(struct server *srv, struct smtpd *d);
void smtpd_outq_stopping(struct smtpd *d);
void smtpd_outq_cleanup(struct server *srv, struct smtpd *d);
int smtp_cmd_etrn(void *session, char *args);
void smtp_etrn_cancel(struct smtp_session *s);
int smtp_queue_begin(struct smtp_session *s, const char *received, size_t n);
void smtp_queue_write(struct smtp_session *s, const char *buf, size_t len);
int smtp_queue_end(struct smtp_session *s);

#endif
