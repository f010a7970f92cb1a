/* smtpd/smtpd.h: the daemon-wide state of kantorpos-smtpd (server_data),
 * shared by the sessions, the daemon hooks (smtpd/daemon.c) and the
 * outbound queue (smtpd/outq.h). */
#ifndef KANTORPOS_SMTPD_SMTPD_H
#define KANTORPOS_SMTPD_SMTPD_H

struct aliases;
struct smtpd_outq;

struct smtpd {
	struct aliases *al; /* NULL without an aliases file */
	unsigned long msg_counter;
	struct smtpd_outq *outq; /* the outbound queue and its runner */
};

#endif
