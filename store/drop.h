/* store/drop.h: the drop directory of local submission (drop_dir) — where
 * kantorpos-sendmail leaves a message, whether kantorpos-smtpd runs or
 * not, and where the pickup of kantorpos-smtpd takes it from.
 *
 * The directory belongs to the account the daemons run as, mode 1733:
 * anyone may create a file in it, only its owner may list it, and nobody
 * may remove another's file. A writer creates "t.<32 hex digits>"
 * (random; O_CREAT|O_EXCL|O_NOFOLLOW, mode 0644: readable by the daemons'
 * account, unfindable for others), writes the envelope
 * (store/drop_env.h) and the message, fsyncs it, renames it to
 * "m.<same digits>" and makes the rename durable; a file under an "m."
 * name is whole. Its owner is its sender's identity, so the pickup trusts
 * nothing else: a file that is not a regular file with one link, or that
 * is reached through a symbolic link, is moved into bad/ (or removed when
 * bad/ is not the daemons' own directory).
 *
 * Return convention of the project: 0 success, -1 error with errno set.
 * Blocking: run the pickup's calls on the io pool. */
#ifndef KANTORPOS_STORE_DROP_H
#define KANTORPOS_STORE_DROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define DROP_TMP_PREFIX "t."
#define DROP_MSG_PREFIX "m."
#define DROP_BAD_DIR "bad"
/* Room for a file name of the drop directory. */
#define DROP_NAME_SIZE 40

/* ---- writing (kantorpos-sendmail) ---- */

struct drop_writer;

/* Create a new file in the directory dir (which need not be readable).
 * Returns 0 with *w_r, or -1 with errno (ENOENT: no such directory). */
int drop_create(const char *dir, struct drop_writer **w_r);

/* Append len octets (buffered). Returns 0, or -1 with errno. */
int drop_write(struct drop_writer *w, const void *buf, size_t len);

/* Write len octets again at offset off (what the file already has there,
 * as the envelope's body type: store/drop_env.h). Returns 0, or -1. */
int drop_rewrite(struct drop_writer *w, off_t off, const void *buf,
		 size_t len);

/* Make the file whole and visible: flush, fsync, rename to its "m."
 * name, and make the rename durable (an fsync of the directory when it
 * can be opened, else of the file again: on Linux file systems with a
 * journal that commits the rename too, as the rename changed the file's
 * inode). Frees w. Returns 0, or -1 with errno: then nothing is left in
 * the directory. */
int drop_commit(struct drop_writer *w);

/* Give up: remove the file and free w. NULL is fine. */
void drop_abort(struct drop_writer *w);

/* ---- reading (the pickup) ---- */

/* Is name one the pickup takes ("m." and hex digits)? Or a writer's
 * file ("t." and hex digits)? */
bool drop_name_is_msg(const char *name);
bool drop_name_is_tmp(const char *name);

/* Open name in the drop directory dirfd for reading, without following a
 * link and without blocking on a FIFO. Returns the descriptor with its
 * stat in *st_r; -1 with errno ENOENT when it is gone; or -1 with a static
 * reason in *why_r (errno EPERM) when it must be set aside: a link, not a
 * regular file, more than one link, unreadable (*st_r then says what the
 * name is, as lstat(2) does). */
int drop_open(int dirfd, const char *name, struct stat *st_r,
	      const char **why_r);

/* Make the drop directory's bad/ when missing (mode 0700). Returns 0 when
 * it is a directory of the process's own account that nobody else may
 * enter, else -1 (errno EPERM when it is somebody else's). */
int drop_bad_dir(int dirfd);

/* Set name aside: into bad/ when drop_bad_dir accepts it, else removed.
 * Durable either way. Returns 0 (*removed_r says which), or -1. */
int drop_set_aside(int dirfd, const char *name, bool *removed_r);

/* Remove name and make that durable (the message it held was
 * committed). Returns 0, or -1 with errno. */
int drop_remove(int dirfd, const char *name);

#endif
