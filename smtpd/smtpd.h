/* smtpd/smtpd.h: the daemon-wide state of kantorpos-smtpd (server_data),
 * shared by the connections (smtpd/client.c), the daemon hooks
 * (smtpd/daemon.c), the outbound queue (smtpd/outq.h) and the pickup of
 * local mail (smtpd/pickup.h). */
#ifndef KANTORPOS_SMTPD_SMTPD_H
#define KANTORPOS_SMTPD_SMTPD_H

struct aliases;
struct smtpd_outq;
struct smtpd_pickup;
struct smtpd_refreshes;

struct smtpd {
	struct aliases *al; /* NULL without an aliases file */
	struct smtpd_outq *outq; /* the outbound queue and its runner */
	struct smtpd_refreshes *refresh; /* alias rounds (smtpd/refresh.h) */
	struct smtpd_pickup *pickup; /* the drop directory (smtpd/pickup.h) */
	struct smtpd_resolver *resolver; /* DNS checks (smtpd/resolver.h) */
};

#endif
