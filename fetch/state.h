/* fetch/state.h: the per-account UIDL state of the fetcher: which remote
 * messages (by POP3 unique id) were already delivered or deliberately
 * skipped, when, and the Message-ID and local recipients of each, so that
 * keep-on-server runs are idempotent and duplicates are recognised.
 *
 * File format (text, one entry a line, fields separated by one space):
 *   kantorpos-fetch-state 1
 *   UID TIME FLAG MESSAGE-ID|- [RECIPIENT...]
 * TIME is when kantorpos first handled the message (seconds since the
 * epoch), FLAG is D (delivered, or a duplicate of a delivered one) or S
 * (skipped: loop or oversize; stays on the server). The file is replaced
 * atomically (write, fsync, rename, fsync the directory) with mode 0600.
 * A message without a usable unique id of its own (none, a malformed one,
 * or one the server gave to several messages) is recorded under a
 * fallback key made from its header block and size (fst_key: "~hdr:" and
 * 32 hex digits; the prefix tells keys from server ids only when pruning).
 *
 * Lookups by uid and by Message-ID go through keyed hash indexes, so a
 * run over a listing of N messages costs O(N), whatever ids the server
 * chooses. Parsing and formatting are pure; load and save block on the
 * disk. */
#ifndef KANTORPOS_FETCH_STATE_H
#define KANTORPOS_FETCH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fetch/strmap.h"

#define FST_DELIVERED 'D'
#define FST_SKIPPED 'S'
/* RFC 1939 section 7: a unique id is 1 to 70 characters 0x21-0x7E. */
#define FST_UID_MAX 70
/* Largest state file read. */
#define FST_FILE_MAX (64u * 1024 * 1024)
/* The fallback key of a message without a usable uid. */
#define FST_KEY_PREFIX "~hdr:"
#define FST_KEY_SIZE (sizeof(FST_KEY_PREFIX) + 32)

struct fst_entry {
	char *uid;
	time_t time;
	char flag;      /* FST_DELIVERED or FST_SKIPPED */
	char *msgid;    /* NULL when the message had none */
	char **rcpts;   /* local mailbox keys it was delivered to */
	size_t n_rcpts;
	/* Marks of the current run (not saved): the server still has it. */
	bool seen;
	uint32_t seen_num; /* its message number when seen in the listing */
	bool seen_twice;   /* the listing gave its uid to another message */
};

struct fst {
	struct fst_entry *e;
	size_t n, cap;
	struct strmap by_uid, by_msgid;
};

/* True when s is a usable unique id (RFC 1939 form). */
bool fst_uid_ok(const char *s);

/* Parse a state file's text into st (which must be empty: {0}), no entry
 * marked seen. Pure. Returns 0, or -1 with a message in err (line number included) and st
 * left empty. */
int fst_parse(const char *text, size_t len, struct fst *st, char *err,
	      size_t errlen);

/* Format st as file text (heap, NUL-terminated; length in *len_r). Pure.
 * Returns NULL when out of memory. */
char *fst_format(const struct fst *st, size_t *len_r);

/* Read the file at path into st (empty: {0}); a missing file is an empty
 * state. BLOCKING. Returns 0, or -1 with a message in err. */
int fst_load(const char *path, struct fst *st, char *err, size_t errlen);

/* Replace the file at path atomically with st (mode 0600). BLOCKING
 * (fsync). Returns 0 or -1 with errno. */
int fst_save(const char *path, const struct fst *st);

/* True when uid is a fallback key (FST_KEY_PREFIX), not a server's id. */
bool fst_is_key(const char *uid);

/* The fallback key of a message whose header block is hdr[0..len) and
 * whose LIST size is size, into key (FST_KEY_SIZE bytes). Pure. */
void fst_key(const char *hdr, size_t len, unsigned long long size,
	     char key[FST_KEY_SIZE]);

/* The entry for uid, or NULL. */
struct fst_entry *fst_find(const struct fst *st, const char *uid);

/* Add or replace the entry for uid, marked seen (what a run records is
 * the server's); msgid may be NULL, rcpts are copied (keys with blanks or
 * control characters are left out). Returns 0, or -1 (EINVAL bad uid,
 * ENOMEM). */
int fst_set(struct fst *st, const char *uid, time_t when, char flag,
	    const char *msgid, const char *const *rcpts, size_t n_rcpts);

/* True when a delivered entry has this Message-ID and recipient. */
bool fst_delivered(const struct fst *st, const char *msgid,
		   const char *rcpt);

/* Drop the entries not marked seen in this run: those under a server
 * uid when uids is true (the listing no longer has them: gone for good),
 * those under a fallback key when keys is true (only after a run that
 * read every message without a usable uid). Returns how many. */
size_t fst_prune(struct fst *st, bool uids, bool keys);

/* Free everything st owns and empty it. */
void fst_free(struct fst *st);

#endif
