/* store/drop_env.h: the envelope at the top of a file in the drop
 * directory (store/drop.h) — what kantorpos-sendmail was asked for — and
 * its text form. Pure: no I/O, no globals, safe on hostile input (any
 * local user can write such a file).
 *
 * Text, one field a line, each line ending in LF, at most
 * DROP_ENV_LINE_MAX octets:
 *   KANTORPOS-DROP 1             the version, first
 *   B 7BIT                       optional: the body type, 7BIT or 8BIT
 *                                (8-bit octets: BODY=8BITMIME)
 *   S alice@example.org          optional: the sender asked for (-f);
 *   S <>                         the null sender
 *   R bob@example.org            a recipient, at least one
 *   (an empty line)              the end of the envelope
 * Addresses are RFC 5321 mailboxes (addr_mailbox_text; UTF-8 allowed),
 * always with a domain. The message follows the empty line, with CRLF
 * line ends. */
#ifndef KANTORPOS_STORE_DROP_ENV_H
#define KANTORPOS_STORE_DROP_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"

/* The first line. */
#define DROP_ENV_MAGIC "KANTORPOS-DROP 1"
/* Longest line of an envelope, LF included. */
#define DROP_ENV_LINE_MAX 1024
/* Where drop_env_format puts the digit of its body type: a writer that
 * learns it only at the end writes that one octet again. */
#define DROP_ENV_BODY_AT (sizeof(DROP_ENV_MAGIC) + 2)
/* Largest envelope read: room for 100,000 recipients of 40 octets. */
#define DROP_ENV_MAX (4 * 1024 * 1024)

struct drop_env {
	bool has_sender;       /* S given */
	struct addr_mailbox sender; /* when has_sender and not null_sender */
	bool null_sender;      /* S <> */
	struct addr_mailbox *rcpts;
	size_t n_rcpts;
	bool eightbit;         /* B 8BIT */
	size_t len;            /* octets of the envelope, its empty line
				* included: where the message starts */
};

/* The envelope as text into a heap buffer (*text_r, *len_r; caller
 * frees), its body type always on the second line.
 * Returns 0, or -1 with errno (ENOMEM; EINVAL when it has no recipient
 * or an address does not fit a line). */
int drop_env_format(const struct drop_env *env, char **text_r,
		    size_t *len_r);

/* Read the envelope at the start of text[0..len) into *env (free with
 * drop_env_free). Returns 1 when it is whole (env->len set), 0 when its
 * empty line is not in text yet and text is shorter than DROP_ENV_MAX
 * (read more), or -1 when it is not an envelope, with a static reason in
 * *why_r ("no recipient", "a recipient is not an address"). */
int drop_env_parse(const char *text, size_t len, struct drop_env *env,
		   const char **why_r);

void drop_env_free(struct drop_env *env);

#endif
