/* smtpd/outq.h: the outbound queue of kantorpos-smtpd (store/queue) and
 * its runner (outbound/runner.h) for the daemon's life — held mail of
 * the ETRN domains (RFC 1985), mail for the relay host, DSNs — with the
 * start, reload, stop and cleanup hooks of smtpd/daemon.c, and what the
 * sessions use of it: the queue for the pipeline's queue sink, the kick
 * after a commit, the runner for ETRN. */
#ifndef KANTORPOS_SMTPD_OUTQ_H
#define KANTORPOS_SMTPD_OUTQ_H

#include "smtpd/smtpd.h"

struct queue;
struct runner;
struct server;

int smtpd_outq_start(struct server *srv, struct smtpd *d);
/* After a reload: the relayhost password read again (-1, logged, when it
 * cannot be: the old one stays), the runner rebuilt once idle. */
int smtpd_outq_reload(struct server *srv, struct smtpd *d);
void smtpd_outq_stopping(struct smtpd *d);
void smtpd_outq_cleanup(struct server *srv, struct smtpd *d);

/* The queue (NULL when it is not open). */
struct queue *smtpd_outq_queue(const struct smtpd *d);
/* The runner for ETRN (NULL when there is none). */
struct runner *smtpd_outq_runner(const struct smtpd *d);
/* New items are due now (pipe_env.kick; arg is the struct smtpd). */
void smtpd_outq_kick(void *arg);

#endif
