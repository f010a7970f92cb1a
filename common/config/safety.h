/* common/config/safety.h: start-up checks of the files kantorpos trusts (owner and
 * mode of the data directory, user database, TLS key, aliases, fetch
 * password files and the configuration itself). A daemon that finds one
 * unsafe stops with a message naming the file, what is wrong and the
 * chmod/chown that fixes it; `kantorpos check` prints the same lines.
 *
 * A path that does not exist is not this module's business (the loaders
 * report it, or create it): it passes. Symbolic links are followed, so a
 * certificate tool's live/ links are judged by the file they point to.
 *
 * The rules are the same for every reader: `kantorpos fetch` judges a
 * password file it has opened with safety_check_stat, so the daemons,
 * `kantorpos check` and the fetcher cannot disagree. */
#ifndef KANTORPOS_COMMON_SAFETY_H
#define KANTORPOS_COMMON_SAFETY_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/config/config.h"

/* What a path is, which decides the rules applied to it. */
enum safety_kind {
	SAFETY_DATA_DIR, /* a directory: no write for group or others */
	SAFETY_USER_DB,  /* password hashes: no read or write for group or
			  * others */
	SAFETY_TLS_KEY,  /* private key: no access at all for group or others */
	SAFETY_ALIASES,  /* routing: no write for group or others */
	SAFETY_SECRET,   /* a password for a remote server (fetch_account,
			  * etrn_request, relayhost auth): no access at all
			  * for group or others */
	SAFETY_CONFIG,   /* kantorpos.conf: no write for group or others */
	SAFETY_DROP_DIR, /* kantorpos-sendmail's drop directory: owned by the
			  * account itself (not root), no read for group or
			  * others, writable by them only with the sticky bit
			  * (mode 1733) */
	SAFETY_DKIM_KEY, /* a dkim_sign private key: as SAFETY_TLS_KEY */
};

/* The account the programs run as once started (after the privilege
 * drop); every checked path must be owned by it or by root (the drop
 * directory by it alone). */
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

/* The owner for the account uid (its name from the passwd database, else
 * the number). Blocking: reads the passwd database. */
void safety_owner_uid(uid_t uid, struct safety_owner *own_r);

/* Check one path of the given kind against the rules above and the
 * owner. Returns 0 when it is safe or does not exist, or -1 with one line
 * in err: "PATH: <what it is> <what is wrong> (mode 0644); fix: chmod 600
 * PATH". Blocking: one stat(2). */
int safety_check_path(enum safety_kind kind, const char *path,
		      const struct safety_owner *own, char *err,
		      size_t errlen);

/* The rules of kind applied to st, what stat(2) or fstat(2) said about
 * path (a reader that has opened the file checks what it opened). Returns
 * 0, or -1 with one line in err as safety_check_path. Pure apart from the
 * passwd lookup that names a wrong owner. */
int safety_check_stat(enum safety_kind kind, const char *path,
		      const struct stat *st, const struct safety_owner *own,
		      char *err, size_t errlen);

/* One path a configuration names, with the line of cfg->file that names
 * it (0 for the configuration file itself). */
struct safety_item {
	enum safety_kind kind;
	const char *path;
	unsigned line;
};

/* Call fn for each path that safety_check_config checks, in its order. */
void safety_each_path(const struct config *cfg,
		      void (*fn)(const struct safety_item *item, void *arg),
		      void *arg);

/* Check every path cfg names: the config file, data_dir, user_db,
 * tls_key, aliases, drop_dir, each dkim_sign key, each fetch account's
 * password file and the relayhost's. Returns 0, or
 * -1 with every problem as one line each in *err_r (heap text ending in
 * a newline; caller frees; NULL only when out of memory). Blocking. */
int safety_check_config(const struct config *cfg, char **err_r);

#endif
