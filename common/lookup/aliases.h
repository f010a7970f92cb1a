/* common/lookup/aliases.h: the aliases file, one alias a line:
 *
 *   # comment
 *   sales: alice, bob@example.org
 *   postmaster@example.net: alice@example.org
 *
 * A name without "@" is an alias in every local domain, and its targets
 * without "@" are taken in the same domain; a name with "@" must be in a
 * local domain. Targets are local addresses (users, or other aliases,
 * which are expanded when the file is loaded). Names and targets are
 * matched case-insensitively as mailbox keys (common/mail/address.h).
 *
 * Loading checks the whole file: a syntax error, a target outside the
 * local domains, a duplicate alias or a loop (a -> b -> a) is reported as
 * "FILE:LINE: reason", and a file with errors is not used. The error text
 * holds one such line per error, each ending in a newline; bytes from the
 * file that are control characters appear as "\xNN", so no error can
 * spill onto a second line. */
#ifndef KANTORPOS_COMMON_ALIASES_H
#define KANTORPOS_COMMON_ALIASES_H

#include <stddef.h>
#include <sys/stat.h>

#include "common/base/log.h"

struct config;
struct aliases;

/* Largest aliases file read, in bytes (larger: EFBIG). */
#define ALIASES_MAX_SIZE (16u * 1024 * 1024)

/* Parse len bytes of text named `name` (for messages) against the local
 * domains of cfg. Pure: no I/O, no globals. Returns 0 and a table owned by
 * the caller (aliases_free), or -1 with every error line in *err_r (heap,
 * caller frees; NULL when out of memory). */
int aliases_parse(const char *name, const char *text, size_t len,
		  const struct config *cfg, struct aliases **al_r,
		  char **err_r);

/* Read and parse the file at path (blocking); the table remembers the
 * file for aliases_reload. Errors as aliases_parse; a file that cannot be
 * read gives "PATH: cannot read: <reason>". */
int aliases_load(const char *path, const struct config *cfg,
		 struct aliases **al_r, char **err_r);

/* Reload when the file changed (device, inode, size, mtime, ctime).
 * Returns 1 reloaded, 0 unchanged, -1 with *err_r when the new file
 * cannot be read or has errors: the old table stays in use. Blocking (one
 * stat when unchanged). Invalidates target arrays from aliases_lookup. */
int aliases_reload(struct aliases *al, const struct config *cfg,
		   char **err_r);

/* aliases_reload in two steps, for a reload off the loop thread. On the
 * loop, copy the file's path and what it was (aliases_path,
 * aliases_stat: the table may be replaced meanwhile); then, on any
 * thread, aliases_reload_prepare returns 1 with a fresh table when the
 * file at path is no longer the one known describes, 0 when it is, -1
 * with *err_r as aliases_reload; back on the loop, aliases_reload_commit
 * moves fresh's contents into al and frees fresh. */
const char *aliases_path(const struct aliases *al);
const struct stat *aliases_stat(const struct aliases *al);
int aliases_reload_prepare(const char *path, const struct stat *known,
			   const struct config *cfg, struct aliases **fresh_r,
			   char **err_r);
void aliases_reload_commit(struct aliases *al, struct aliases *fresh);

void aliases_free(struct aliases *al);

/* Number of aliases (after expanding names without "@" per domain). */
size_t aliases_count(const struct aliases *al);

/* Alias i (0 <= i < aliases_count) in key order: returns its key, with
 * the line of the file it is on in *line_r and the targets written there
 * (mailbox keys, before expansion) in *targets_r / *n_r, owned by al. For
 * checks that walk the whole table. */
const char *aliases_entry(const struct aliases *al, size_t i,
			  unsigned *line_r, const char *const **targets_r,
			  size_t *n_r);

/* Log an error text of aliases_load, aliases_parse or aliases_reload one
 * log line per error (log_lines), each between context and kept (what
 * the program does about it; may be ""): "reload: FILE:3: reason;
 * keeping the old aliases". NULL err logs "context: out of memory" and
 * kept. Every program that logs aliases errors goes through this. */
void aliases_log_errors(enum log_level level, const char *context,
			const char *err, const char *kept);

/* Look up a mailbox key ("local@domain", lower case). Returns the number
 * of final targets (mailbox keys of non-alias addresses, without
 * duplicates) with *targets_r pointing at them (owned by al, valid until
 * the next reload or free), or 0 when key is not an alias. */
size_t aliases_lookup(const struct aliases *al, const char *key,
		      const char *const **targets_r);

#endif
