/* smtpd/pickup_file.h: one file of the drop directory through the
 * pipeline, for the pickup (smtpd/pickup.h).
 *
 * On the io pool: the file is opened without following a link and
 * checked (a regular file with one link: store/drop.h), its owner's
 * account read, its envelope parsed, and the sender it asks for checked
 * against its owner (pipeline/sender.h: sender_local_allowed); a file
 * that fails a check is set aside (store/drop.h) and logged. Then, on the
 * loop, after the user db and aliases are refreshed (smtpd/refresh.h), a
 * transaction of origin PIPE_SENDMAIL: the sender (the owner's address
 * OWNER@sendmail_domain unless it asked for another it may use), each
 * recipient routed as an authenticated user's, and the content read from
 * the file on the io pool in pieces and written with pipe_tx_reserve and
 * pipe_tx_write. The file is removed only after the commit; recipients
 * refused for good get a bounce (smtpd/pickup_bounce.h) queued before
 * that; a temporary failure of any step leaves the file as it is. */
#ifndef KANTORPOS_SMTPD_PICKUP_FILE_H
#define KANTORPOS_SMTPD_PICKUP_FILE_H

#include "smtpd/smtpd.h"

struct server;

enum pickup_result {
	PICKUP_DONE,  /* delivered and/or bounced, and removed */
	PICKUP_DEFER, /* a temporary failure: left for a later try */
	PICKUP_ASIDE, /* not a local user's message: set aside */
	PICKUP_GONE,  /* no longer there */
	PICKUP_STUCK, /* stored, but the file could not be removed nor set
		       * aside: never to be taken again */
};

typedef void pickup_file_cb(void *arg, enum pickup_result result);

/* Take the file name of the drop directory dir; done(arg, result) runs
 * later, on the loop. A file older than queue_lifetime (its mtime) is
 * bounced rather than tried. Returns 0, or -1 when it cannot begin now
 * (out of memory, the io pool is full): done does not run then. */
int pickup_file_run(struct server *srv, struct smtpd *d, const char *dir,
		    const char *name, pickup_file_cb *done, void *arg);

#endif
