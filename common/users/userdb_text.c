/* common/users/userdb_text.c: passwd-file lines and the parse of a whole
 * file into a sorted user table with warnings. */
#include "autoconf.h"

#include "common/users/userdb_text.h"

#include "common/users/password.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool userdb_line_next(const char *text, size_t len, size_t *pos,
		      struct userdb_line *l)
{
	const char *nl;

	if (*pos >= len)
		return false;
	l->start = text + *pos;
	nl = memchr(l->start, '\n', len - *pos);
	l->full_len = nl != NULL ? (size_t)(nl - l->start) + 1 : len - *pos;
	l->len = nl != NULL ? (size_t)(nl - l->start) : l->full_len;
	if (l->len > 0 && l->start[l->len - 1] == '\r')
		l->len--;
	*pos += l->full_len;
	return true;
}

static bool line_is_blank_or_comment(const struct userdb_line *l)
{
	size_t i = 0;

	while (i < l->len && (l->start[i] == ' ' || l->start[i] == '\t'))
		i++;
	return i == l->len || l->start[i] == '#';
}

int userdb_line_key(const struct userdb_line *l, char key[ADDR_KEY_SIZE])
{
	const char *colon = memchr(l->start, ':', l->len);
	char name[ADDR_KEY_SIZE];
	const char *why;
	size_t n;

	if (colon == NULL || line_is_blank_or_comment(l))
		return -1;
	n = (size_t)(colon - l->start);
	if (n >= sizeof(name) || memchr(l->start, '\0', n) != NULL)
		return -1;
	memcpy(name, l->start, n);
	name[n] = '\0';
	return addr_key_from_string(name, key, ADDR_KEY_SIZE, &why);
}

void userdb_table_free(struct userdb_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->count; i++)
		free(t->users[i].key);
	for (size_t i = 0; i < t->nwarnings; i++)
		free(t->warnings[i].text);
	free(t->users);
	free(t->warnings);
	free(t->text);
	free(t);
}

static int warn(struct userdb_table *t, const char *name, unsigned line,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int warn(struct userdb_table *t, const char *name, unsigned line,
		const char *fmt, ...)
{
	struct userdb_warning *w;
	char *msg, *text;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = asprintf(&text, "%s:%u: %s", name, line, msg);
	free(msg);
	if (rc < 0)
		return -1;
	w = realloc(t->warnings, (t->nwarnings + 1) * sizeof(*w));
	if (w == NULL) {
		free(text);
		return -1;
	}
	t->warnings = w;
	t->warnings[t->nwarnings].line = line;
	t->warnings[t->nwarnings++].text = text;
	return 0;
}

static int user_cmp(const void *a, const void *b)
{
	const struct userdb_user *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int warning_cmp(const void *a, const void *b)
{
	const struct userdb_warning *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* Parse one user line into t->users; problems become warnings. The line is
 * cut into NUL-terminated fields in place. */
static int parse_line(struct userdb_table *t, const char *name,
		      unsigned lineno, char *s, size_t len)
{
	char key[ADDR_KEY_SIZE], *colon, *hash, *extra;
	const char *why;
	struct userdb_user *u;

	if (memchr(s, '\0', len) != NULL)
		return warn(t, name, lineno, "NUL byte in line");
	s[len] = '\0';
	colon = strchr(s, ':');
	if (colon == NULL)
		return warn(t, name, lineno, "no ':' after the user name");
	*colon = '\0';
	if (addr_key_from_string(s, key, sizeof(key), &why) < 0)
		return warn(t, name, lineno, "bad user name: %s", why);
	hash = colon + 1;
	extra = strchr(hash, ':');
	if (extra != NULL)
		*extra++ = '\0';
	if (*hash == '\0')
		return warn(t, name, lineno, "empty password hash for %s", key);
	if (password_needs_rehash(hash, crypto_pwhash_OPSLIMIT_MIN,
				  crypto_pwhash_MEMLIMIT_MIN) < 0 &&
	    warn(t, name, lineno,
		 "password hash of %s is not {ARGON2ID}: that user cannot log in",
		 key) < 0)
		return -1;
	u = realloc(t->users, (t->count + 1) * sizeof(*u));
	if (u == NULL)
		return -1;
	t->users = u;
	u = &t->users[t->count];
	u->key = strdup(key);
	if (u->key == NULL)
		return -1;
	u->hash = hash;
	u->extra = extra;
	u->line = lineno;
	t->count++;
	return 0;
}

/* Sort the users and keep the first line of each key; later lines of a
 * key become warnings. */
static int drop_duplicates(struct userdb_table *t, const char *name)
{
	size_t kept = 0;

	if (t->count > 1)
		qsort(t->users, t->count, sizeof(*t->users), user_cmp);
	for (size_t i = 0; i < t->count; i++) {
		struct userdb_user *u = &t->users[i];

		if (kept > 0 && strcmp(t->users[kept - 1].key, u->key) == 0) {
			if (warn(t, name, u->line,
				 "duplicate user %s (first on line %u)", u->key,
				 t->users[kept - 1].line) < 0) {
				/* Free the keys not yet kept, then the rest
				 * with the table. */
				for (size_t j = i; j < t->count; j++)
					free(t->users[j].key);
				t->count = kept;
				return -1;
			}
			free(u->key);
			continue;
		}
		t->users[kept++] = *u;
	}
	t->count = kept;
	return 0;
}

int userdb_table_parse(struct userdb_table *t, const char *name, size_t len)
{
	struct userdb_line l;
	unsigned lineno = 0;
	size_t pos = 0;

	while (userdb_line_next(t->text, len, &pos, &l)) {
		lineno++;
		if (line_is_blank_or_comment(&l))
			continue;
		if (parse_line(t, name, lineno, (char *)l.start, l.len) < 0)
			return -1;
	}
	if (drop_duplicates(t, name) < 0)
		return -1;
	if (t->nwarnings > 1)
		qsort(t->warnings, t->nwarnings, sizeof(*t->warnings),
		      warning_cmp);
	return 0;
}
