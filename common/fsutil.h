/* common/fsutil.h: small durable file-system helpers shared by every module
 * that writes state (user db, Maildir, queue, fetch state).
 *
 * Return convention of the project: 0 success, -1 error with errno set. */
#ifndef KANTORPOS_COMMON_FSUTIL_H
#define KANTORPOS_COMMON_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* write(2) until done, retrying EINTR and short writes. */
int fs_write_all(int fd, const void *buf, size_t len);

/* fsync a directory, so a rename or link inside it is durable. */
int fs_fsync_dir(const char *dir);

/* fsync the directory that contains path. */
int fs_fsync_parent(const char *path);

/* mkdir -p with the given mode for every created component; existing
 * directories are left as they are. */
int fs_mkdir_p(const char *path, mode_t mode);

/* Replace path atomically: write a temporary file beside it with the given
 * mode, fsync it, rename it over path and fsync the directory. Run as root,
 * the new file keeps the owner and group of the file it replaces. On error
 * the old contents stay in place and no temporary file is left behind. */
int fs_write_file_atomic(const char *path, const void *data, size_t len,
			 mode_t mode);

/* Read a whole file (at most max_len bytes, else EFBIG) into a NUL-terminated
 * heap buffer owned by the caller. */
int fs_read_file(const char *path, size_t max_len, char **data_r,
		 size_t *len_r);

#endif
