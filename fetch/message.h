/* fetch/message.h: the per-message half of an account run (private to
 * fetch/): what the session (runner.c) hands a message to. Each of these
 * ends with the message handed back through r->msg_done (or the run
 * failed: frun_fail). */
#ifndef KANTORPOS_FETCH_MESSAGE_H
#define KANTORPOS_FETCH_MESSAGE_H

#include "fetch/run.h"

/* RETR the current message, streaming it into a delivery. */
void fmsg_fetch(struct fetch_run *r);
/* Leave the current message on the server (recorded as skipped). */
void fmsg_skip(struct fetch_run *r, const char *why);
/* The current message is over max_size: tell postmaster, then DELE. */
void fmsg_oversize(struct fetch_run *r);

#endif
