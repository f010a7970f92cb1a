/* common/config/secret.h: the password for a remote server — a fetch
 * account's POP3 password, an etrn_request's AUTH password (kantorpos
 * etrn), the relayhost's AUTH password (the queue runner) — read from a
 * file that only its owner may read or write. */
#ifndef KANTORPOS_COMMON_SECRET_H
#define KANTORPOS_COMMON_SECRET_H

#include <stddef.h>
#include <sys/types.h>

/* Largest password file read. */
#define SECRET_MAX 4096

/* Read the password: the first line of path without its line end. The
 * file must not be a symbolic link and must pass the SAFETY_SECRET rule of
 * common/config/safety.h (a regular file owned by owner or root, no permission
 * bits for group or others; owner is the account the process runs as),
 * and the password must not be empty. BLOCKING (small file read).
 * Returns 0 with *pw_r (heap; give it back with secret_free), or
 * -1 with the reason in err, such as "PATH: the password file is readable
 * by others (mode 0604); fix: chmod 600 PATH". */
int secret_read(const char *path, uid_t owner, char **pw_r, char *err,
		size_t errlen);

/* Wipe (sodium_memzero) and free a password; NULL is fine. */
void secret_free(char *pw);

#endif
