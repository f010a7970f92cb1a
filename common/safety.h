/* common/safety.h: start-up checks of the files kantorpos trusts (owner and
 * mode of the data directory, user database, TLS key, aliases, fetch
 * password files and the configuration itself). A daemon that finds one
 * unsafe stops with a message naming the file, what is wrong and the
 * chmod/chown that fixes it; `kantorpos check` prints the same lines.
 *
 * A path that does not exist is not this module's business (the loaders
 * report it, or create it): it passes. Symbolic links are followed, so a
 * certificate tool's live/ links are judged by the file they point to. */
#ifndef KANTORPOS_COMMON_SAFETY_H
#define KANTORPOS_COMMON_SAFETY_H

#include <stddef.h>
#include <sys/types.h>

#include "common/config.h"

/* What a path is, which decides the rules applied to it. */
enum safety_kind {
	SAFETY_DATA_DIR, /* a directory: no write for group or others */
	SAFETY_USER_DB,  /* password hashes: no read or write for group or
			  * others */
	SAFETY_TLS_KEY,  /* private key: no access at all for group or others */
	SAFETY_ALIASES,  /* routing: no write for group or others */
	SAFETY_SECRET,   /* a fetch password: no access for group or others */
	SAFETY_CONFIG,   /* kantorpos.conf: no write for group or others */
};

/* The account the programs run as once started (after the privilege
 * drop); every checked path must be owned by it or by root. */
struct safety_owner {
	uid_t uid;
	char name[64]; /* user name for the chown hint; the number if unknown */
};

/* The owner for cfg: the run_as account when the process is root and
 * run_as is set (the daemon will drop to it), else the effective user.
 * Returns 0, or -1 with a reason in err when run_as names no account.
 * Blocking: reads the passwd database. */
int safety_owner_for(const struct config *cfg, struct safety_owner *own_r,
		     char *err, size_t errlen);

/* Check one path of the given kind against the rules above and the
 * owner. Returns 0 when it is safe or does not exist, or -1 with one line
 * in err: "PATH: <what it is> <what is wrong> (mode 0644); fix: chmod 600
 * PATH". Blocking: one stat(2). */
int safety_check_path(enum safety_kind kind, const char *path,
		      const struct safety_owner *own, char *err,
		      size_t errlen);

/* Check every path cfg names: the config file, data_dir, user_db,
 * tls_key, aliases and each fetch account's password file. Returns 0, or
 * -1 with every problem as one line each in *err_r (heap text ending in
 * a newline; caller frees; NULL only when out of memory). Blocking. */
int safety_check_config(const struct config *cfg, char **err_r);

#endif
