/* pipeline/stage.h: the one interface of a pipeline stage — a step that
 * looks at a message between its entry point and its sinks.
 *
 * A stage has hooks, each optional, run in the order of the stage list
 * (pipeline/stages.c) for the transactions its `wants` takes:
 *   mail     the sender and MAIL parameters are known
 *   rcpt     a recipient was routed (pipeline/route.h), before it is added
 *   begin    the content starts: may add header fields on top (Received)
 *   content  the content as it streams, through `out`: pass it on as it
 *            is (no copy), or add, change or drop octets
 *   end      the content ended: may still add octets (at the end of a
 *            header section that never ended), then decide
 * A hook returns a verdict. CONTINUE goes on with the next stage; REJECT
 * and TEMPFAIL stop the step with the reply the hook wrote into *r;
 * DISCARD accepts the message (or recipient) and drops it. WAIT suspends
 * the transaction without blocking the loop, and only where there is a
 * loop (pipe_tx_env(tx)->io set; without it a stage decides inline):
 *   - from mail, rcpt, begin or end, the stage calls pipe_stage_done
 *     later, on the loop thread, with its verdict;
 *   - from content, the stage has taken the octets (it passes them on
 *     with stage_out_write now or later, keeping the out it was given: a
 *     scanner sending them elsewhere first) and the entry point gets no
 *     room (pipe_tx_reserve) and no end until the stage calls
 *     pipe_stage_resume. Octets it passes on later should fit the room
 *     the entry point reserved for them.
 * A content hook's REJECT, TEMPFAIL or DISCARD is kept and given at the
 * end (the entry point reads the content to its end).
 *
 * Each stage has a slot of per-transaction state (*st, NULL at first) that
 * it allocates as it needs and frees in `reset`. */
#ifndef KANTORPOS_PIPELINE_STAGE_H
#define KANTORPOS_PIPELINE_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/msg.h"

struct pipe_tx;

enum stage_verdict {
	STAGE_CONTINUE = 0,
	STAGE_REJECT,
	STAGE_TEMPFAIL,
	STAGE_DISCARD,
	STAGE_WAIT,
};

/* Where a content hook's octets go: the next stages, then the sink. */
struct stage_out {
	struct pipe_tx *tx;
	size_t next; /* index of the next stage in the list */
};

struct stage {
	const char *name;
	/* Most octets content + end add to a message (planning the room of
	 * a sink's buffer); 0 when they add none. */
	size_t grow;
	/* Does the stage take part in tx (its origin, its client)? Asked
	 * once, when the transaction starts; NULL: always. */
	bool (*wants)(struct pipe_tx *tx);
	int (*mail)(struct pipe_tx *tx, void **st, struct pipe_reply *r);
	int (*rcpt)(struct pipe_tx *tx, void **st, struct pipe_rcpt *rcpt,
		    struct pipe_reply *r);
	int (*begin)(struct pipe_tx *tx, void **st, struct stage_out *out,
		     struct pipe_reply *r);
	int (*content)(struct pipe_tx *tx, void **st, const char *buf,
		       size_t len, struct stage_out *out, struct pipe_reply *r);
	int (*end)(struct pipe_tx *tx, void **st, struct stage_out *out,
		   struct pipe_reply *r);
	void (*reset)(void *st); /* free the state (never NULL when called) */
};

/* The stage list, in order, NULL-terminated (pipeline/stages.c). */
const struct stage *const *stage_list(void);

/* The transaction's label for log lines (pipe_facts.label). */
const char *pipe_tx_label(const struct pipe_tx *tx);

/* The sender's path during the mail step (NULL: none known). */
const struct addr_path *pipe_tx_mail_path(const struct pipe_tx *tx);

/* The state of stage s in tx (its *st), for what a later stage reads of
 * an earlier one's results through that stage's own header; NULL when s
 * is not in tx's list, takes no part in tx, or keeps no state (yet). */
void *pipe_tx_stage_state(const struct pipe_tx *tx, const struct stage *s);

/* Pass len octets on to what follows the hook that was given out. */
void stage_out_write(struct stage_out *out, const char *buf, size_t len);

/* Where the next octet written through out lands in the stored message
 * (counted from its first octet, the sink's own Return-Path included), for
 * stage_out_overwrite; UINT64_MAX when out does not lead straight to the
 * sink (a later stage has a content hook) or nothing is being stored. */
uint64_t stage_out_offset(const struct stage_out *out);

/* Octets a stage wrote at off (stage_out_offset) are to be replaced by
 * buf[0..len), as many, with the same line ends at the same places: a
 * field whose value is known only at the end of the message, written
 * first as a placeholder of its exact size. Applied by the commit before
 * the message is made durable (a failure fails the commit). Returns 0,
 * or -1 when out of memory. */
int stage_out_overwrite(struct stage_out *out, uint64_t off, const char *buf,
			size_t len);

/* A waiting hook is finished (loop thread): its verdict (not WAIT), with
 * the reply written into the *r it was given. The step goes on. */
void pipe_stage_done(struct pipe_tx *tx, int verdict);

/* A content hook that returned WAIT is done with what it was given
 * (loop thread): verdict CONTINUE, or REJECT / TEMPFAIL / DISCARD with
 * the reply written into the *r it was given (kept for the end). The
 * entry point's waiting reserve or end goes on. */
void pipe_stage_resume(struct pipe_tx *tx, int verdict);

/* Add key=value words to the message's log line (pipe_msg.notes), cut
 * where it is full. */
void pipe_tx_note(struct pipe_tx *tx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set *r (text formatted, cut at PIPE_TEXT_MAX) and return verdict. */
int stage_reply(struct pipe_reply *r, int verdict, int code,
		const char *enh, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
