/* fetch/listing.h: the server's listing in one run of an account: the
 * UIDL and LIST replies parsed line by line as they arrive, matched
 * against the UIDL state, and only the messages that need work this run
 * (fetching, or a DELE that is due) kept, at most `max` of them.
 *
 * UIDL comes first so that messages already handled cost no memory:
 * memory is O(max) plus two bits per message number, whatever the size
 * of the listing, and each line costs O(1) (keyed hash lookups, a binary
 * search), so a listing of N messages costs O(N log N) at worst.
 *
 * Rules (documented in kantorpos.conf(5)):
 * - A UIDL entry whose id is not an RFC 1939 id (1 to 70 octets
 *   0x21-0x7E), is cut off by an overlong line, or starts with the
 *   fallback key prefix, gives a message without a usable uid: it is
 *   fetched and recognised later by its fallback key (fetch/state.h).
 * - An id the listing gives to several messages identifies none of them:
 *   each is tracked by its fallback key too.
 * - A message LIST names but UIDL does not has no usable uid either; one
 *   UIDL names but LIST does not is gone (not kept).
 * - Lines that name no message number (1 to FLIST_NUM_MAX), and a second
 *   line for the same number, are ignored and counted.
 * - Every server uid listed marks its state entry seen (fst_prune).
 *
 * Pure code: no I/O. */
#ifndef KANTORPOS_FETCH_LISTING_H
#define KANTORPOS_FETCH_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fetch/state.h"
#include "fetch/strmap.h"

/* Largest message number taken. */
#define FLIST_NUM_MAX (1u << 24)
/* Longest listing line read whole (RFC 2449 section 4: 512 with CRLF). */
#define FLIST_LINE_MAX 510

struct flist_msg {
	uint32_t num;
	uint32_t uid;  /* offset + 1 into the uid pool; 0: none */
	uint64_t size; /* as LIST announced it */
	bool sized;    /* LIST named it */
	bool shared;   /* its uid is given to several messages */
};

/* When a message the state knows needs work: keep, keep_days, now. */
struct flist_rule {
	bool keep;
	unsigned keep_days;
	time_t now;
};

struct flist {
	struct flist_msg *m; /* the messages to handle */
	size_t n, cap, max;
	size_t n_sorted;     /* m[0..n_sorted) is in number order */
	char *pool;          /* their uids, NUL-terminated */
	size_t pool_len, pool_cap;
	struct strmap by_uid;
	unsigned char *nums; /* 2 bits per message number: UIDL, LIST */
	size_t nums_len;
	bool have_uidl;      /* the UIDL reply was +OK */
	size_t uidl_lines;   /* UIDL lines naming a message number */
	size_t list_lines;   /* LIST lines naming a message and its size */
	/* For the log. */
	size_t capped;       /* needing work, left for the next run */
	size_t bad_uid;      /* UIDL entries with an unusable uid */
	size_t shared_uid;   /* messages whose uid another one has too */
	size_t no_uidl;      /* in LIST but not in UIDL */
	size_t ignored;      /* lines without a message number, repeats */
};

/* Start an empty listing keeping at most max messages (max >= 1).
 * Returns 0 or -1 (ENOMEM). */
int flist_init(struct flist *l, size_t max);

/* True when a message with this state entry needs work this run: a
 * delivered one whose DELE is due (keep no, or keep_days passed). */
bool flist_due(const struct fst_entry *e, const struct flist_rule *rule);

/* One line of the UIDL reply (as pop3c_line_fn gives it). Returns 0, or
 * -1 when out of memory. */
int flist_uidl_line(struct flist *l, struct fst *st,
		    const struct flist_rule *rule, const char *line,
		    size_t len, bool overlong);

/* The UIDL reply is over; ok: it was +OK (else no message has a uid). */
void flist_uidl_end(struct flist *l, bool ok);

/* One line of the LIST reply. Returns 0, or -1 when out of memory. */
int flist_list_line(struct flist *l, const char *line, size_t len,
		    bool overlong);

/* The LIST reply is over: messages without a size are dropped, the rest
 * ordered smallest first (the most mail gets through a slow link). */
void flist_list_end(struct flist *l);

/* The usable uid of m, or NULL (none, or shared). */
const char *flist_uid(const struct flist *l, const struct flist_msg *m);

void flist_free(struct flist *l);

#endif
