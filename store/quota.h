/* store/quota.h: per-user quota of a maildir, in bytes and messages,
 * computed from the ,S= sizes in the names under new/ and cur/ (files are
 * not read; a name without S= is stat()ed). A limit of 0 means unlimited.
 * The directories are opened with fs_openat_safe (common/base/fsutil.h).
 *
 * The check is advisory between concurrent deliveries: two deliveries that
 * both fit may together go slightly over, as with Dovecot's Maildir++
 * quota; that never loses mail. */
#ifndef KANTORPOS_STORE_QUOTA_H
#define KANTORPOS_STORE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct quota_usage {
	uint64_t bytes;
	uint64_t messages;
};

/* Sum the messages of maildir (new/ and cur/; entries starting with '.' and
 * directories are skipped). A missing maildir or subdirectory counts as
 * empty. A file that disappears while being stat()ed is not counted.
 * Returns 0, or -1 (errno) when a directory cannot be read. Blocking. */
int quota_usage_get(const char *maildir, struct quota_usage *usage_r);

/* Whether one more message of bytes fits: usage + bytes <= max_bytes and
 * messages + 1 <= max_messages, each limit 0 meaning unlimited. Pure. */
bool quota_fits(const struct quota_usage *usage, uint64_t max_bytes,
		uint64_t max_messages, uint64_t bytes);

/* quota_usage_get + quota_fits for maildir: 1 fits, 0 over quota (errno
 * EDQUOT), -1 error (errno). With both limits 0 it returns 1 at once
 * without touching the disk. Blocking. */
int quota_check(const char *maildir, uint64_t max_bytes,
		uint64_t max_messages, uint64_t bytes);

#endif
