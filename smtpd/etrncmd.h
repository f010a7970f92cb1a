/* smtpd/etrncmd.h: the ETRN command (RFC 1985), answered once the queue
 * runner has looked at the domain's queue (smtpd/etrncmd.c). */
#ifndef KANTORPOS_SMTPD_ETRNCMD_H
#define KANTORPOS_SMTPD_ETRNCMD_H

struct smtp_session;

/* The ETRN command (a proto_handler_fn). */
int smtp_cmd_etrn(void *session, char *args);

/* Forget a pending ETRN when its session closes (smtp_hooks.closed). */
void smtp_etrn_cancel(struct smtp_session *s);

#endif
