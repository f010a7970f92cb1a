/* store/maildrop.h: the POP3 view of one Maildir (RFC 1939): an exclusive
 * lock, a snapshot of new/ and cur/ taken at open with sizes and unique-ids,
 * deletion marks applied only by commit (the UPDATE state), and a pull
 * reader that streams a message (or its header plus N body lines) with
 * every line end as CRLF.
 *
 * Messages are numbered 0..count-1 in delivery order (time from the name,
 * then name); POP3 message n is index n-1. Mail delivered after open is not
 * part of the snapshot and is never removed by commit. Dropping the process
 * (crash, kill -9) releases the lock and changes nothing.
 * Every function may block on the file system. */
#ifndef KANTORPOS_STORE_MAILDROP_H
#define KANTORPOS_STORE_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The lock file inside the maildir. */
#define MDROP_LOCK_NAME "kantorpos-pop3.lock"

struct mdrop;
struct mdrop_reader;

/* Lock maildir and take its snapshot. The lock is an open-file-description
 * lock (fcntl F_OFD_SETLK) on MDROP_LOCK_NAME, so it excludes a second open
 * in the same process as well as in others, and it dies with the process.
 * A missing maildir is created (empty maildrop).
 * new/ and cur/ are held open until release: the session reads and
 * removes in the directories it locked, whatever happens to their names.
 * A link on the way (common/base/fsutil.h) is refused with ELOOP.
 * Returns 1 with *drop_r set (the caller releases it with mdrop_commit or
 * mdrop_release), 0 when another session holds the lock, -1 on error
 * (errno). Never waits for the lock. */
int mdrop_open(const char *maildir, struct mdrop **drop_r);

/* Messages in the snapshot, deleted ones included. */
size_t mdrop_count(const struct mdrop *m);

/* POP3 size of message i (< count): the octets mdrop_read yields for the
 * whole message, i.e. with CRLF line ends. Taken from W= when the name has
 * it, else computed once at open by reading the file. */
uint64_t mdrop_size(const struct mdrop *m, size_t i);

/* Unique-id of message i: the Maildir base name (the name up to ':', so it
 * survives the move from new/ to cur/ and flag changes), or a hash of it
 * when that is not 1..70 printable characters (RFC 1939 §7). Owned by m. */
const char *mdrop_uidl(const struct mdrop *m, size_t i);

/* Deletion marks (DELE / RSET). Nothing changes on disk until commit. */
bool mdrop_is_deleted(const struct mdrop *m, size_t i);
void mdrop_set_deleted(struct mdrop *m, size_t i, bool deleted);

/* Number and total POP3 size of the messages not marked deleted (STAT). */
void mdrop_stat(const struct mdrop *m, size_t *count_r, uint64_t *bytes_r);

/* Open a reader for message i: the whole message when body_lines < 0,
 * else the header, the blank line and at most body_lines body lines (TOP;
 * a message without a blank line is all header). A message that another
 * Maildir client moved to cur/ meanwhile is found by its base name.
 * Returns 0 with *reader_r set (free with mdrop_reader_close; it must be
 * closed before m is released), -1 on error (ENOENT when the message is
 * gone). */
int mdrop_reader_open(struct mdrop *m, size_t i, long long body_lines,
		      struct mdrop_reader **reader_r);

/* Copy up to len (> 0) bytes of the message into buf, line ends normalised to
 * CRLF (a bare LF becomes CRLF; a last line without line end gets CRLF).
 * Returns the number of bytes (> 0), 0 at the end, -1 on a read error
 * (errno). Holds only a small fixed buffer, whatever the message size. */
ssize_t mdrop_read(struct mdrop_reader *r, void *buf, size_t len);

void mdrop_reader_close(struct mdrop_reader *r);

/* UPDATE: unlink every message marked deleted (one already gone is fine),
 * fsync new/ and cur/, release the lock and free m. *removed_r (if not
 * NULL) gets the number of files unlinked. Returns 0, or -1 (errno of the
 * first failed unlink) when some marked message could not be removed; the
 * lock is released and m freed in every case. Unmarked messages and mail
 * delivered after open are never touched. */
int mdrop_commit(struct mdrop *m, size_t *removed_r);

/* Release the lock and free m without changing anything. NULL is fine. */
void mdrop_release(struct mdrop *m);

#endif
