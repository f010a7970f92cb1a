/* smtpd/smtpd.h: the daemon-wide state of kantorpos-smtpd (server_data of
 * its server), made by smtpd/daemon.c and read by the handlers. */
#ifndef KANTORPOS_SMTPD_SMTPD_H
#define KANTORPOS_SMTPD_SMTPD_H

struct aliases;
struct smtpd_outq;

struct smtpd {
	struct aliases *al; /* NULL without an aliases file */
	unsigned long msg_counter;
	struct smtpd_outq *outq; /* ETRN: the outbound queue and its runner */
};

#endif
