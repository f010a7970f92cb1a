/* smtpd/authcmd.h: SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN:
 * the command, its SASL response lines in SMTP_S_AUTH, and the answer of
 * the environment's login. */
#ifndef KANTORPOS_SMTPD_AUTHCMD_H
#define KANTORPOS_SMTPD_AUTHCMD_H

#include "common/net/conn.h"
#include "smtpd/session.h"

/* The AUTH command (a proto_handler_fn). */
int smtp_cmd_auth(void *session, char *args);

/* A SASL response line in SMTP_S_AUTH; an overlong one cancels the
 * exchange (RFC 4954 §4). Returns a proto_outcome. */
int smtp_sasl_line(struct smtp_session *s, const struct conn_line *line);

/* The answer of ops->login: reply 235 (the session is now logged in as
 * mailbox), 535 or 454, and resume input. */
void smtp_auth_done(struct smtp_session *s, enum smtp_login_result result,
		    const char *mailbox);

#endif
