/* common/users/userdb_text.h: the passwd-file text of the user db, line by
 * line: the parser behind userdb_open and userdb_parse (userdb.c), and the
 * line reader that the file edits (userdb_edit.c) share with it. Pure: no
 * I/O, no locks. Not for use outside common/users/. */
#ifndef KANTORPOS_COMMON_USERDB_TEXT_H
#define KANTORPOS_COMMON_USERDB_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/mail/address.h"

/* A line of the file: where it starts, its length without the line end,
 * and with it ("\n", and a "\r" before it). */
struct userdb_line {
	const char *start;
	size_t len;
	size_t full_len;
};

/* The next line of text from *pos (moved past it), or false at the end. */
bool userdb_line_next(const char *text, size_t len, size_t *pos,
		      struct userdb_line *l);

/* The mailbox key of a user line into key; -1 when the line is blank, a
 * comment or has no valid user name before its first ':'. */
int userdb_line_key(const struct userdb_line *l, char key[ADDR_KEY_SIZE]);

struct userdb_user {
	char *key;	   /* normalised name (owned) */
	const char *hash;  /* into the table's text */
	const char *extra; /* after the second colon, or NULL */
	unsigned line;
};

struct userdb_warning {
	unsigned line;
	char *text; /* "NAME:LINE: reason" */
};

/* The parsed file: its text (cut into fields in place) and the users
 * sorted by key, one per key (the first line wins, as in Dovecot). */
struct userdb_table {
	char *text;
	struct userdb_user *users;
	size_t count;
	struct userdb_warning *warnings; /* in line order */
	size_t nwarnings;
};

/* Parse t->text (len bytes plus a NUL, owned by t) into t's users and
 * warnings, naming the text `name` in the warnings; lines that cannot be
 * used become warnings. Returns 0, or -1 when memory ran out (free t with
 * userdb_table_free either way). */
int userdb_table_parse(struct userdb_table *t, const char *name, size_t len);

/* Free t, its text, users and warnings; NULL is fine. */
void userdb_table_free(struct userdb_table *t);

#endif
