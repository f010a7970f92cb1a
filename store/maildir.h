/* store/maildir.h: durable Maildir delivery — streaming a message into tmp/,
 * committing it write-once into the new/ of one or more maildirs, creating
 * maildirs, cleaning stale tmp/ files.
 *
 * Layout: DATA/mail/<domain>/<localpart>/{tmp,new,cur}. Every function takes
 * the maildir path itself; md_path builds it safely from its parts. Every
 * path is opened with fs_openat_safe (common/base/fsutil.h): a symbolic link
 * anywhere in the store is refused (ELOOP, MD_ERR_IO), never followed.
 * All functions block on the file system: run commit (fsyncs) on the worker
 * pool. A delivery object belongs to one thread at a time. */
#ifndef KANTORPOS_STORE_MAILDIR_H
#define KANTORPOS_STORE_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Result of a delivery step. Every error leaves errno as the system call
 * set it (EDQUOT for MD_ERR_QUOTA), so callers can log it; SMTP answers
 * each of them with a temporary failure. */
enum md_result {
	MD_OK = 0,
	MD_ERR_NOSPACE,  /* ENOSPC, or EFBIG (file size limit reached) */
	MD_ERR_FSQUOTA,  /* EDQUOT: the file system's quota */
	MD_ERR_IO,       /* EIO and every other system error */
	MD_ERR_QUOTA,    /* kantorpos per-user quota would be exceeded */
	MD_ERR_INVALID,  /* bad argument: unsafe path, empty target list */
};

/* Stale tmp/ files are removed after this age (the Maildir convention). */
#define MD_TMP_MAX_AGE (36 * 60 * 60)

/* Short English text for a result ("disk full", ...); never NULL. */
const char *md_result_str(enum md_result r);

/* Map an errno value to a result (ENOSPC/EFBIG, EDQUOT, anything else). */
enum md_result md_result_from_errno(int err);

/* Build "<data_dir>/mail/<domain>/<localpart>" into a heap string owned by
 * the caller. Returns 0, or -1 with EINVAL when domain or localpart fails
 * addr_component_safe (common/mail/address.h; nothing is touched on disk). */
int md_path(const char *data_dir, const char *domain, const char *localpart,
	    char **path_r);

/* Make sure maildir and its tmp/, new/ and cur/ exist, creating every
 * missing level with mode 0700 and fsyncing the parents of what it created,
 * so the new directories survive a crash. Returns 0 or -1 (errno). */
int md_create(const char *maildir);

/* One recipient maildir of a commit, with its kantorpos quota
 * (0 = unlimited; see store/quota.h). */
struct md_target {
	const char *maildir;
	uint64_t quota_bytes;
	uint64_t quota_messages;
};

struct md_delivery;

/* Start a delivery: create the first target maildir if needed and a file
 * (mode 0600) in its tmp/: unnamed (O_TMPFILE) where the kernel, the file
 * system and /proc allow, else a new name (O_EXCL). host goes into the unique name (NULL
 * means gethostname()). On MD_OK *d_r is the caller's until commit or
 * abort. Thread-safe: names stay unique across threads and processes. */
enum md_result md_delivery_begin(const char *maildir, const char *host,
				 struct md_delivery **d_r);

/* Start a delivery as md_delivery_begin does, but without touching the
 * disk: the file is made (and the maildir if needed) when the first write
 * outgrows the 64 KiB buffer, by md_delivery_open, or by the commit. A
 * message that fits the buffer is thus written, fsynced and linked in one
 * blocking step, on the worker pool. Never blocks. */
enum md_result md_delivery_start(const char *maildir, const char *host,
				 struct md_delivery **d_r);

/* The buffer every delivery writes through. */
#define MD_DELIVERY_BUFFER 65536

/* Octets md_delivery_write takes without touching the disk (making the
 * file, or writing the buffer into it): the room left in the buffer. For
 * a caller whose thread must not block (a daemon's event loop): before a
 * write of more than this, run md_delivery_open on the storage pool, with
 * the delivery handed over until it returns; afterwards the whole buffer
 * is room. Written that way, in pieces of at most MD_DELIVERY_BUFFER
 * octets, md_delivery_write never waits on the disk (a larger piece goes
 * to the file directly). Never blocks. */
size_t md_delivery_room(const struct md_delivery *d);

/* Make the file of a deferred start now (once) and write what the buffer
 * holds into it, leaving the buffer empty. Returns MD_OK or the sticky
 * error. Blocking: for the storage pool. */
enum md_result md_delivery_open(struct md_delivery *d);

/* Append len bytes (any size, binary-safe; buffered). An error is sticky:
 * later writes and the commit return it too, so a caller can keep reading
 * its input and answer at the end. */
enum md_result md_delivery_write(struct md_delivery *d, const void *buf,
				 size_t len);

/* Replace len octets already written at offset off (counted from the
 * first octet of the file) by as many others, with the same line ends at
 * the same places (the W= count stays): a field whose value is only known
 * at the end of the message. Returns MD_OK or the sticky error (also
 * MD_ERR_INVALID for octets not written yet). Blocking when they are in
 * the file already: for the storage pool. */
enum md_result md_delivery_overwrite(struct md_delivery *d, uint64_t off,
				     const void *buf, size_t len);

/* Bytes written so far (the S= of the final name). */
uint64_t md_delivery_size(const struct md_delivery *d);

/* Make the message durable and visible, all-or-nothing: flush and fsync the
 * file, then for each target create the maildir if needed, check its quota,
 * hard-link the file into new/ (copying when the target is on another file
 * system), fsync every new/, and remove the tmp file's name if it has one. If any target fails,
 * the links already made are removed (and their directories fsynced), and
 * the error of that target is returned with *failed_r (if not NULL) set to
 * its index (n when the failure is not tied to a target, e.g. writing the
 * file or an earlier write error). Targets naming the same maildir twice get one copy.
 * name_r (if not NULL, size bytes) receives the file name used in new/.
 * Consumes d in every case: the tmp file is gone afterwards. Blocking
 * (fsync): run it on the worker pool. */
enum md_result md_delivery_commit(struct md_delivery *d,
				  const struct md_target *targets, size_t n,
				  size_t *failed_r, char *name_r, size_t size);

/* Give up a delivery: remove its tmp file and free d. NULL is fine. */
void md_delivery_abort(struct md_delivery *d);

/* Whether deliveries begun from now on may use unnamed files (default:
 * yes, where they work). Off, every delivery names its file in tmp/, as on
 * a file system without O_TMPFILE; the tests use it to cover that path. */
void md_use_unnamed_files(bool on);

/* Remove regular files in maildir/tmp/ last modified more than max_age
 * seconds ago (MD_TMP_MAX_AGE is the usual value): leftovers of crashed
 * deliveries. *removed_r (if not NULL) gets the count. A missing tmp/ is
 * fine. Returns 0, or -1 (errno) if the directory cannot be read or a file
 * cannot be removed (the others are still tried). */
int md_clean_tmp(const char *maildir, time_t max_age, size_t *removed_r);

#endif
