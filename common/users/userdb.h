/* common/users/userdb.h: the user database, a text file in Dovecot's passwd-file
 * format:
 *
 *   # comment
 *   alice@example.org:{ARGON2ID}$argon2id$v=19$m=…,t=…,p=…$…[:extra:fields]
 *
 * One user per line; names are mailbox keys (common/mail/address.h), matched
 * case-insensitively. Comments, blank lines, malformed lines and the extra
 * fields after the hash are kept byte for byte when the file is edited.
 *
 * This header is the in-memory view (userdb_open … userdb_free) that the
 * daemons load, query and reload when the file changes; the edits of the
 * file itself, for the admin tool, are common/users/userdb_edit.h.
 */
#ifndef KANTORPOS_COMMON_USERDB_H
#define KANTORPOS_COMMON_USERDB_H

#include <stddef.h>

struct userdb;

/* Largest user file read, in bytes (larger: EFBIG). */
#define USERDB_MAX_SIZE (64u * 1024 * 1024)

/* Load the file at path. Lines that cannot be used are skipped and each
 * gives a warning "PATH:LINE: reason" (userdb_warning); the rest loads.
 * The verification cost starts at libsodium's INTERACTIVE limits.
 * Blocking (file I/O). Returns 0 and a db owned by the caller (free with
 * userdb_free), or -1 with errno (ENOENT when the file is missing). */
int userdb_open(const char *path, struct userdb **db_r);

/* Parse len bytes of passwd-file text held in memory, as userdb_open does
 * with a file's contents (text need not be NUL-terminated; warnings are
 * "NAME:LINE: reason"). The db is tied to no file: userdb_reload on it
 * returns 0. Pure: no I/O, no globals, safe on hostile input. Returns 0
 * and a db owned by the caller, or -1 with errno ENOMEM. */
int userdb_parse(const char *name, const char *text, size_t len,
		 struct userdb **db_r);

void userdb_free(struct userdb *db);

/* The Argon2id cost used for the dummy verification of unknown users and
 * for needs-rehash decisions; set it to the cost new hashes are made with. */
void userdb_set_cost(struct userdb *db, unsigned long long opslimit,
		     size_t memlimit);

/* Reload if the file changed (device, inode, size, mtime or ctime with
 * nanoseconds). Cheap when nothing changed: one stat. Returns 1 when it
 * reloaded, 0 when unchanged, -1 with errno when the new file cannot be
 * read (the old contents stay in use); always 0 for a db from
 * userdb_parse. Blocking (file I/O). Safe against concurrent lookups and
 * reloads (one that finds the db reloaded meanwhile keeps the newer
 * contents and returns 0); invalidates the warning strings. */
int userdb_reload(struct userdb *db);

/* userdb_reload in two halves, for a program whose event loop must not
 * read files: the blocking half on a pool thread, the swap on the loop.
 *
 * userdb_reload_prepare: stat the file and, when it changed, read and
 * parse it into *fresh_r without touching db. Blocking; any thread, at the
 * same time as lookups, verifications and other prepares of db. Returns 1
 * with *fresh_r (pass it to commit or discard), 0 when the file is
 * unchanged (always for a db from userdb_parse), -1 with errno when it
 * cannot be read (db keeps its contents).
 *
 * userdb_reload_commit: install fresh in db, unless db was reloaded since
 * fresh was prepared (then the newer contents stay and fresh is dropped).
 * Cheap, never blocks on the disk; safe against concurrent lookups; call
 * it from the thread that reads the warnings. Frees fresh. Returns 1 when
 * installed, 0 when dropped.
 *
 * userdb_reload_discard: drop a prepared version unused. NULL is fine. */
struct userdb_fresh;
int userdb_reload_prepare(struct userdb *db, struct userdb_fresh **fresh_r);
int userdb_reload_commit(struct userdb *db, struct userdb_fresh *fresh);
void userdb_reload_discard(struct userdb_fresh *fresh);

/* Warnings of the last successful (re)load, in line order. The strings
 * live until the next reload or userdb_free; read them from the thread
 * that reloads. */
size_t userdb_warning_count(const struct userdb *db);
const char *userdb_warning(const struct userdb *db, size_t i);

/* Number of users loaded. */
size_t userdb_count(struct userdb *db);

/* Find a user by name (any case). Returns 1 and, if hash_r is not NULL, a
 * heap copy of the stored hash (the caller frees it; it lets a worker
 * verify while the db is reloaded), 0 when there is no such user or the
 * name is not a valid mailbox, -1 with errno on allocation failure.
 * Non-blocking, thread-safe. */
int userdb_lookup(struct userdb *db, const char *name, char **hash_r);

/* Verify a login. Unknown users (and invalid names) are checked against
 * the dummy hash of the configured cost, so they take as long as a wrong
 * password. BLOCKING (Argon2id): run it on the worker pool. Thread-safe.
 * Returns 1 when the password matches (then *rehash_r, if not NULL, is 1
 * when the hash was made at another cost), 0 for a wrong password or an
 * unknown user, -1 when the stored hash cannot be verified (unsupported
 * scheme, malformed) or memory ran out, with a static reason in *why_r
 * (which may be NULL). */
int userdb_verify(struct userdb *db, const char *name, const char *pw,
		  size_t pwlen, int *rehash_r, const char **why_r);

/* Call fn for each user name (the mailbox key), in sorted order, under the
 * db's lock: fn must not call back into db. */
void userdb_list(struct userdb *db, void (*fn)(const char *name, void *arg),
		 void *arg);

#endif
