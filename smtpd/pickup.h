/* smtpd/pickup.h: the pickup of kantorpos-smtpd — the messages local
 * users leave in the drop directory with kantorpos-sendmail
 * (store/drop.h), taken into the pipeline as origin PIPE_SENDMAIL, one
 * file at a time, with the hooks of smtpd/daemon.c.
 *
 * When: at start (mail left while the daemon was down), when a file
 * arrives (inotify on the directory, read on the loop), and every
 * PICKUP_TICK seconds (retries, a missed event). The directory is listed
 * on the io pool; each file goes through smtpd/pickup_file.h. A file that
 * failed temporarily waits queue_retry_min, doubled at each failure up to
 * queue_retry_max; after queue_lifetime it is bounced. Nothing here blocks
 * the loop. */
#ifndef KANTORPOS_SMTPD_PICKUP_H
#define KANTORPOS_SMTPD_PICKUP_H

#include "smtpd/smtpd.h"

struct server;

/* Seconds between the periodic scans. */
#define PICKUP_TICK 60.0

/* Before the privilege drop: make drop_dir when it is missing and its
 * parent exists (mode 1733, owned by run_as), and its bad/ (0700).
 * A directory that cannot be made is logged, not fatal: local submission
 * waits for it. Returns 0. */
int smtpd_pickup_prepare(struct server *srv);

/* Start watching (the first scan runs at once). Returns 0, or -1 when out
 * of memory. */
int smtpd_pickup_start(struct server *srv, struct smtpd *d);

/* A reload: drop_dir may have moved; look again. */
void smtpd_pickup_reload(struct smtpd *d);

/* A graceful stop: no new file is begun; the one in progress ends. */
void smtpd_pickup_stopping(struct smtpd *d);

/* Teardown: wait (a few seconds at most) for the file in progress, then
 * free. */
void smtpd_pickup_cleanup(struct server *srv, struct smtpd *d);

#endif
