/* fetch/runner.h: one run of one fetch account (MultiPOP or DomainPOP):
 * prepare on the worker pool (password file, UIDL state, user database,
 * DNS, TLS context), then a POP3 session on the loop, each message
 * streamed into a delivery as it arrives, committed and recorded on the
 * worker pool before its DELE, and one log line at the end.
 *
 * Safety order for every message: RETR, durable delivery to every local
 * recipient (the pipeline's commit returned MD_OK), UIDL state saved, and
 * only then DELE; QUIT only after the last of those. Any failure (a
 * deadline of the run or of one of its steps included: fetch/deadline.h)
 * drops the session without QUIT, so the server keeps every message. */
#ifndef KANTORPOS_FETCH_RUNNER_H
#define KANTORPOS_FETCH_RUNNER_H

#include <stdbool.h>

#include "fetch/env.h"

struct fetch_run;

/* Start a run of acct. Non-blocking. done(acct, status, arg) is called
 * exactly once, from the loop, after the run is over and freed.
 * Returns the run, or NULL with errno (done is not called then). */
struct fetch_run *fetch_run_start(struct fetch_env *env,
				  const struct config_fetch *acct,
				  fetch_done_fn *done, void *arg);

/* Stop a run early (shutdown): the session is dropped without QUIT, a
 * delivery already on the worker pool finishes, then done follows. */
void fetch_run_cancel(struct fetch_run *run);

#endif
