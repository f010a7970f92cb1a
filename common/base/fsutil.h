/* common/base/fsutil.h: small durable file-system helpers shared by every module
 * that writes state (user db, Maildir, queue, fetch state), and the one way
 * the store opens a path: without following a symbolic link that someone
 * other than root could have made.
 *
 * Why: the store (DATA/mail, DATA/queue, DATA/fetch) belongs to the user
 * the daemons run as, so anyone with that user's rights can put a link
 * there; a process with more rights that followed it would write where the
 * link points. The rule for every component of a path (the last one
 * included): a symbolic link is followed only when the directory holding
 * it belongs to root and no one else may write to it (the administrator's
 * /var/lib/kantorpos -> /srv/kantorpos); any other link is refused with
 * ELOOP and the log line "PATH: is a symbolic link; refusing to follow it".
 * In a store owned by its daemon user that means: no link below DATA is
 * ever followed.
 *
 * Return convention of the project: 0 success, -1 error with errno set. */
#ifndef KANTORPOS_COMMON_FSUTIL_H
#define KANTORPOS_COMMON_FSUTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* write(2) until done, retrying EINTR and short writes. */
int fs_write_all(int fd, const void *buf, size_t len);

/* A buffered append writer's file (fd, size octets in all, the last
 * buf_len of them still in buf): replace the len octets at off with data,
 * in the file (pwrite, blocking) and in buf, where each lies. The octets
 * must have been written already (off + len <= size): -1 EINVAL
 * otherwise, or the errno of pwrite. */
int fs_overwrite_buffered(int fd, char *buf, size_t buf_len, uint64_t size,
			  uint64_t off, const void *data, size_t len);

/* close(fd) when fd >= 0, leaving errno as it was; returns rc, so that
 * "return fs_close_keep(fd, rc);" ends a function that reports errno. */
int fs_close_keep(int fd, int rc);

/* openat(dirfd, path, flags | O_CLOEXEC, mode) under the link rule above:
 * returns the descriptor, or -1 (ELOOP for a refused link; the errno of
 * the failing step otherwise). path may be absolute (dirfd is then
 * ignored) or relative to dirfd (AT_FDCWD: the working directory; the
 * directories leading to dirfd itself are not checked again). O_CREAT
 * creates the last component in the directory so reached; with O_EXCL a
 * link there is never followed (EEXIST). A path with no link in it costs
 * one openat2(2) where the kernel has it, else one openat per component.
 * Thread-safe. */
int fs_openat_safe(int dirfd, const char *path, int flags, mode_t mode);

/* opendir(3) of a directory fs_openat_safe opens (for reading): a stream
 * of its own, also when path is "." in a directory handle already held.
 * NULL with errno on failure. */
DIR *fs_opendir_safe(int dirfd, const char *path);

/* Whether fs_openat_safe may use openat2(2) (default: yes, where the
 * kernel has it). Off, every call walks the path one component at a time,
 * as on a kernel before Linux 5.6; the tests use it to cover that path. */
void fs_use_openat2(bool on);

/* fsync a directory, so a rename or link inside it is durable. */
int fs_fsync_dir(const char *dir);

/* fsync the directory that contains path. */
int fs_fsync_parent(const char *path);

/* mkdir -p with the given mode for every created component, under the link
 * rule; existing directories are left as they are. Every directory that
 * gained an entry is fsynced, so what was made survives a crash. */
int fs_mkdir_p(const char *path, mode_t mode);

/* Replace path atomically: write a temporary file beside it with the given
 * mode (created O_EXCL), fsync it, rename it over path and fsync the
 * directory, which is reached under the link rule. Run as root, the new
 * file keeps the owner and group of the file it replaces. On error the old
 * contents stay in place and no temporary file is left behind. */
int fs_write_file_atomic(const char *path, const void *data, size_t len,
			 mode_t mode);

/* Read a whole file (at most max_len bytes, else EFBIG) into a NUL-terminated
 * heap buffer owned by the caller. The path is opened as open(2) does (a
 * configuration file may be a link); store files go through
 * fs_openat_safe and fs_read_fd. */
int fs_read_file(const char *path, size_t max_len, char **data_r,
		 size_t *len_r);

/* fs_read_file for a descriptor open for reading, from its current offset;
 * fd stays open. */
int fs_read_fd(int fd, size_t max_len, char **data_r, size_t *len_r);

/* Whether two stats show the same version of one file: device, inode,
 * size, mtime and ctime (with nanoseconds) all equal. A file read earlier
 * need not be read again while its stat stays the same. */
bool fs_same_file(const struct stat *a, const struct stat *b);

#endif
