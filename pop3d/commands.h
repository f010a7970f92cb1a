/* pop3d/commands.h: the POP3 commands: a session's input lines, each
 * checked and run by the handler its verb names in the session's state
 * (the AUTH PLAIN response included). The session (pop3d/session.h) knows
 * no command; the daemon (pop3d/client.c) feeds it lines through here. */
#ifndef KANTORPOS_POP3D_COMMANDS_H
#define KANTORPOS_POP3D_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/proto/proto.h"
#include "pop3d/session.h"

/* One input line of the session s. Returns PROTO_DONE (read the next
 * line), PROTO_ASYNC (input was paused; a completion resumes it) or
 * PROTO_CLOSE (the reply is queued; close after it). */
int pop3_session_line(struct pop3_session *s, const struct conn_line *line);

#endif
