/* common/users/userdb_edit.h: edits of the user db file (common/users/userdb.h
 * says its format) for the admin tool: add a user, replace a hash, delete a
 * user, each under an exclusive lock on "PATH.lock" (an open-file-description
 * lock, so it works between processes and threads).
 *
 * Each edit locks PATH.lock (waiting for other editors), re-reads the
 * current file (a missing file counts as empty and is created), writes the
 * result atomically with mode 0600 and fsyncs file and directory. Lines it
 * does not change (comments, blank and malformed lines, other users, the
 * extra fields after a hash) are kept byte for byte. Run as root, the file
 * and PATH.lock keep (take) the owner of the existing file, so its owner
 * can edit after root; a lock file with another hard link or that is not a
 * regular file is refused (EPERM) rather than chowned.
 *
 * BLOCKING. Each returns 0, or -1 with errno and a static reason in *why_r
 * (which may be NULL): EINVAL bad name or hash, EEXIST user exists (add),
 * ENOENT no such user (set_hash, delete), others from the file system.
 * hash is a complete stored hash as made by password_hash.
 */
#ifndef KANTORPOS_COMMON_USERDB_EDIT_H
#define KANTORPOS_COMMON_USERDB_EDIT_H

/* Append a new user "key:hash". */
int userdb_add(const char *path, const char *name, const char *hash,
	       const char **why_r);
/* Replace the hash of an existing user, keeping the name as written in the
 * file and its extra fields. */
int userdb_set_hash(const char *path, const char *name, const char *hash,
		    const char **why_r);
/* Remove every line of that user. */
int userdb_delete(const char *path, const char *name, const char **why_r);

#endif
