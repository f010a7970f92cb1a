/* smtpd/commands.h: the SMTP commands (RFC 5321 §4.1 and the extensions of
 * the EHLO reply): a session's input lines outside message content, each
 * checked and run through the shared dispatcher (common/proto) by the
 * handler its verb names in the session's state. The session
 * (smtpd/session.h) knows no command; its hooks bring lines here. */
#ifndef KANTORPOS_SMTPD_COMMANDS_H
#define KANTORPOS_SMTPD_COMMANDS_H

#include <stddef.h>

#include "common/net/conn.h"
#include "common/proto/proto.h"
#include "smtpd/session.h"

/* The command table (verbs, allowed states, flags, handlers). */
const struct proto_cmd *smtp_command_table(void);

/* One input line of the session (smtp_hooks.line): a SASL response in
 * SMTP_S_AUTH, else a command. Returns a proto_outcome. */
int smtp_command_line(struct smtp_session *s, struct conn_line *line);

/* One command line (NUL-terminated, without its terminator; len octets,
 * may hold NULs), dispatched in the session's state. */
int smtp_command(struct smtp_session *s, char *line, size_t len);

/* The environment's refresh (smtp_ops.refresh) is done: the MAIL that
 * waited for it runs now, then input resumes. */
void smtp_refresh_done(struct smtp_session *s);

#endif
