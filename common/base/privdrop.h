/* common/base/privdrop.h: leaving root for the daemons' unprivileged user, and
 * proving there is no way back.
 *
 * A daemon starts as root only to bind its ports and read its TLS key; it
 * then calls privdrop_to once, before starting threads or serving anyone.
 * Started unprivileged (systemd with CAP_NET_BIND_SERVICE, the demo, the
 * tests), the call is a no-op.
 */
#ifndef KANTORPOS_COMMON_PRIVDROP_H
#define KANTORPOS_COMMON_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>

/* When any of the real, effective or saved uids is 0 and `user` names an
 * account: look it up, set its supplementary groups (initgroups), then all
 * three gids, then all three uids (setresgid, setresuid), and verify by
 * reading the ids back and by checking that setuid(0) now fails. Refuses an
 * account whose uid or gid is 0.
 * When root and `user` is NULL or "": with must_not_be_root this is an error
 * (the daemon must not continue as root); otherwise nothing happens.
 * When not root: nothing happens and 0 is returned, whatever `user` is.
 * Returns 0, or -1 with a one-line reason in err (errlen bytes, may be 0);
 * after -1 the caller must exit, as the process may be partly dropped.
 * Blocking: reads the passwd and group databases. */
int privdrop_to(const char *user, bool must_not_be_root, char *err,
	size_t errlen);

#endif
