/* admin/stdin_message.h: a message on the admin tool's standard input
 * into a pipeline transaction — what `kantorpos deliver` and
 * `kantorpos queue add` share: the check of the -f sender, and the
 * content (bare LF stored as CRLF) with its commit. */
#ifndef KANTORPOS_ADMIN_STDIN_MESSAGE_H
#define KANTORPOS_ADMIN_STDIN_MESSAGE_H

#include "common/mail/address.h"

struct pipe_tx;

/* Check -f: a mailbox within the path limit, or "" (the null sender).
 * Fills *path. Returns ADM_OK or the exit status after saying why. */
int admin_sender_path(const char *sender, struct addr_path *path);

/* Begin tx's content (id names it), copy standard input into it and end
 * it: the outcome is in pipe_tx_reply and pipe_tx_store_result. A read
 * error fails the message (nothing stored). Blocking: for an inline
 * transaction (pipe_env.io NULL). */
void admin_pipe_stdin(struct pipe_tx *tx, const char *id);

#endif
