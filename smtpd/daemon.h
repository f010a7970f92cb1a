/* smtpd/daemon.h: kantorpos-smtpd as a daemon of the shared runtime
 * (common/runtime/server.h). */
#ifndef KANTORPOS_SMTPD_DAEMON_H
#define KANTORPOS_SMTPD_DAEMON_H

#include "common/runtime/server.h"

/* The daemon for server_main / server_new: smtpd/client.c as the accept
 * and refuse hooks; prepare makes the drop directory; start loads the
 * aliases, the outbound queue and the pickup. */
extern const struct server_ops smtpd_server_ops;

#endif
