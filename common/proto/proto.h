/* common/proto/proto.h: the line-protocol engine shared by smtpd and pop3d.
 *
 * Pure code: no I/O, no globals, no allocation. The connection layer hands a
 * command line (terminator already removed) to the daemon, which gives it to
 * proto_dispatch: it checks the line's bytes, splits it into verb and
 * arguments, finds the command in the daemon's table, gates it by session
 * state and by the table's argument flags, and runs the handler. Replies
 * stay with the daemon (its refuse hook), so every daemon answers these
 * faults in its own protocol but from one shared decision. The pieces
 * (split, lookup, ...) are exported too, for tests and fuzzers.
 */
#ifndef KANTORPOS_COMMON_PROTO_H
#define KANTORPOS_COMMON_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a command handler returns to the input loop. */
enum proto_outcome {
	PROTO_DONE = 0, /* the handler queued its reply; read the next line */
	PROTO_ASYNC,    /* session parked, input paused; a completion replies */
	PROTO_CLOSE,    /* send what is queued, then close the connection */
};

/* A command handler. `session` is the daemon's own session struct, passed as
 * void * so that one table type serves both daemons without casting function
 * pointers: the handler converts the object pointer back to its session type
 * (struct smtp_session *s = session;). `args` is the argument text as split
 * by proto_split, writable, never NULL (empty when there is none). Returns a
 * proto_outcome. */
typedef int proto_handler_fn(void *session, char *args);

/* Generic command flags; bits from PROTO_CMD_DAEMON_FLAG(0) up belong to the
 * daemon (pre-TLS allowed, flush, ...). */
#define PROTO_CMD_NEEDS_ARG 0x1u /* reject when args is empty */
#define PROTO_CMD_NO_ARG 0x2u    /* reject when args is not empty */
#define PROTO_CMD_DAEMON_FLAG(n) (0x100u << (n))

/* Bit for state number s in proto_cmd.states (s < 32). */
#define PROTO_STATE(s) (1u << (s))

/* One row of a command table. A table is an array ending with a row whose
 * verb is NULL. A verb may appear in several rows with different states and
 * handlers; the first row allowing the current state wins. */
struct proto_cmd {
	const char *verb;       /* upper case by convention; matched ignoring case */
	unsigned states;        /* PROTO_STATE() bits where the command is allowed */
	proto_handler_fn *run;  /* the handler */
	unsigned flags;         /* PROTO_CMD_* and daemon flags */
};

enum proto_lookup_result {
	PROTO_FOUND = 0,   /* *cmd_r is the row to run */
	PROTO_UNKNOWN,     /* no row has this verb; *cmd_r is NULL */
	PROTO_WRONG_STATE, /* verb known but not allowed now; *cmd_r is its first row */
};

/* Split a command line in place. The verb is everything before the first
 * space (SP only; a TAB is part of the verb, so such a line finds no
 * command); that space becomes a NUL. The arguments are all the bytes after
 * that single space, untouched (a POP3 password may begin or end with
 * spaces). Without a space the arguments are "". Returns 0, or -1 when the
 * verb is empty (empty line or a line starting with a space); *verb_r and
 * *args_r are set in every case (to "" on failure). */
int proto_split(char *line, char **verb_r, char **args_r);

/* Take the next space-separated word from *cursor for commands with several
 * arguments (POP3 TOP msg n): skips leading spaces, NUL-terminates the word
 * and advances *cursor past it. Returns the word, or NULL when only spaces
 * (or nothing) remain. */
char *proto_next_word(char **cursor);

/* Find `verb` (ASCII case-insensitive) in `table` for the session in state
 * number `state`. Sets *cmd_r as described in enum proto_lookup_result. */
enum proto_lookup_result proto_lookup(const struct proto_cmd *table,
	const char *verb, unsigned state, const struct proto_cmd **cmd_r);

/* Check args against the command's PROTO_CMD_NEEDS_ARG / PROTO_CMD_NO_ARG
 * flags: true when acceptable. */
bool proto_args_ok(const struct proto_cmd *cmd, const char *args);

/* Counter of bad commands in a session (unknown, wrong state, syntax). */
struct proto_bad {
	unsigned count;
	unsigned limit; /* 0: never reached */
};

void proto_bad_init(struct proto_bad *bad, unsigned limit);
/* Count one bad command. Returns true when the limit is now reached: the
 * caller replies and closes the session. The count saturates. */
bool proto_bad_hit(struct proto_bad *bad);
/* True when the limit has been reached. */
bool proto_bad_reached(const struct proto_bad *bad);

/* Parse a strict unsigned decimal number: one or more ASCII digits and
 * nothing else (no sign, no spaces, no base prefix; leading zeros are
 * digits). Returns 0 and sets *val_r, or -1 with errno EINVAL (empty or a
 * non-digit) or ERANGE (above max, including overflow of uint64_t);
 * *val_r is left alone on failure. */
int proto_parse_uint(const char *s, uint64_t max, uint64_t *val_r);

/* Why a line is refused. */
enum proto_line_fault {
	PROTO_LINE_OK = 0,
	PROTO_LINE_NUL,     /* a NUL byte */
	PROTO_LINE_BARE_CR, /* CR not part of the removed CRLF terminator */
	PROTO_LINE_BARE_LF, /* LF inside the line */
	PROTO_LINE_CTRL,    /* another control byte (0x01-0x1f but TAB, or DEL) */
};

/* Check the `len` bytes of a line (terminator already removed) for bytes a
 * command line must not carry. Bytes 0x80-0xff are allowed (UTF-8). Returns
 * the first fault found and, when pos_r is not NULL, its offset. */
enum proto_line_fault proto_check_line(const char *line, size_t len,
	size_t *pos_r);
/* A short English reason for a fault ("NUL byte in line", ...), static. */
const char *proto_line_fault_str(enum proto_line_fault fault);

/* Why proto_dispatch did not run a handler. */
enum proto_refusal_kind {
	PROTO_REFUSE_BYTES,   /* bytes a command line must not carry: fault,
			       * pos; cmd is the row of a known verb that
			       * ends (at a space) before pos, else NULL */
	PROTO_REFUSE_EMPTY,   /* no verb (empty line, leading space) */
	PROTO_REFUSE_LENGTH,  /* longer than max_len(verb) */
	PROTO_REFUSE_UNKNOWN, /* no row has the verb */
	PROTO_REFUSE_STATE,   /* not allowed now: cmd is the verb's first row */
	PROTO_REFUSE_ARGS,    /* allowed now, but the arguments break the
			       * row's PROTO_CMD_NEEDS_ARG / PROTO_CMD_NO_ARG */
};

/* What the refuse hook is told. verb and args are set (else "") once the
 * line was split: from PROTO_REFUSE_LENGTH on. */
struct proto_refusal {
	enum proto_refusal_kind kind;
	const struct proto_cmd *cmd;
	enum proto_line_fault fault; /* PROTO_REFUSE_BYTES */
	size_t pos;                  /* PROTO_REFUSE_BYTES: offset of the byte */
	const char *verb;
	const char *args;
};

/* A daemon's dispatcher: its table and how it words refusals. */
struct proto_dispatcher {
	const struct proto_cmd *table;
	/* Longest line for this verb in octets, terminator not counted, or
	 * NULL for no limit here (the reader's maximum still applies).
	 * Checked after the split and before the lookup, so an overlong
	 * line is refused as such whatever its verb. */
	size_t (*max_len)(const char *verb);
	/* Reply to a refused line (count it as a bad command, as the daemon
	 * does) and return a proto_outcome. */
	int (*refuse)(void *session, const struct proto_refusal *r);
};

/* Dispatch one command line (len octets, NUL-terminated, terminator
 * removed, writable: it is split in place) of `session` in state number
 * `state`: check its bytes (proto_check_line), split it (proto_split),
 * check its length, look the verb up (proto_lookup) and check the
 * arguments (proto_args_ok), in that order; the first failure goes to
 * d->refuse, else the row's handler runs with the arguments. Returns what
 * the hook or the handler returned. */
int proto_dispatch(const struct proto_dispatcher *d, unsigned state,
		   char *line, size_t len, void *session);

#endif
