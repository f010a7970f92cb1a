/* store/dirsync.h: group commit of directory fsyncs. Deliveries that link
 * files into the same new/ at about the same time share one fsync of it:
 * an fsync that starts after a link has completed makes that link
 * durable, whoever asked for it. Several threads finishing deliveries
 * together thus pay for one directory write and one cache flush instead
 * of one each.
 *
 * Thread-safe; blocks on the file system (run it on the worker pool). */
#ifndef KANTORPOS_STORE_DIRSYNC_H
#define KANTORPOS_STORE_DIRSYNC_H

/* Make every entry change in dir that completed before this call durable:
 * join an fsync of dir that has not started yet, or run one. dir is opened
 * with fs_openat_safe (common/base/fsutil.h). Returns 0,
 * or -1 with errno from open or fsync (the fsync that covered this call
 * failed; the entries may or may not be on disk). */
int dirsync(const char *dir);

/* dirsync for a directory already open (for reading); fd stays open. */
int dirsync_fd(int fd);

/* fsyncs run by dirsync so far in this process (callers minus this is
 * what grouping saved). */
unsigned long dirsync_fsyncs(void);

/* Callers inside dirsync(dir) right now, each already waiting for an fsync
 * that covers it (0 also when dir is not tracked). For tests. */
unsigned dirsync_users(const char *dir);

/* Replace fsync(2) for dirsync (NULL: fsync again). For tests, which need
 * an fsync that takes as long as they say. */
void dirsync_set_fsync(int (*fsync_fn)(int fd));

#endif
