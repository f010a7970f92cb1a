/* common/lookup/aliases.c: aliases file parsing, load-time expansion with loop
 * detection, lookup and reload. */
#include "autoconf.h"

#include "common/lookup/aliases.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/mail/address.h"
#include "common/config/config.h"
#include "common/base/fsutil.h"

struct alias {
	char *key;       /* "local@domain", lower case */
	unsigned line;
	char **targets;  /* as written in the file, made into keys */
	size_t n_targets;
	char **final;    /* expanded: keys of non-alias addresses */
	size_t n_final;
	int mark;        /* expansion: 0 new, 1 on the stack, 2 done */
};

struct aliases {
	char *path;
	struct stat st;
	struct alias *v; /* sorted by key */
	size_t n;
};

/* Errors of one parse. */
struct errs {
	const char *name;
	char *text;
	size_t len;
	bool oom;
};

static void err_add(struct errs *e, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Control characters of src as "\xNN", so an error stays one line. */
static void escape_controls(char *dst, size_t size, const char *src)
{
	size_t o = 0;

	for (; *src != '\0' && o + 5 < size; src++) {
		unsigned char c = (unsigned char)*src;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

static void err_add(struct errs *e, unsigned line, const char *fmt, ...)
{
	char raw[1024], msg[4096];
	va_list ap;
	int n;
	char *grown;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	escape_controls(msg, sizeof(msg), raw);
	n = snprintf(NULL, 0, "%s:%u: %s\n", e->name, line, msg);
	if (n < 0 || e->oom)
		return;
	grown = realloc(e->text, e->len + (size_t)n + 1);
	if (grown == NULL) {
		e->oom = true;
		return;
	}
	e->text = grown;
	snprintf(e->text + e->len, (size_t)n + 1, "%s:%u: %s\n", e->name, line,
		 msg);
	e->len += (size_t)n;
}

static void alias_clear(struct alias *a)
{
	for (size_t i = 0; i < a->n_targets; i++)
		free(a->targets[i]);
	free(a->targets);
	/* final[] points into other aliases' targets or own; free the array. */
	free(a->final);
	free(a->key);
}

static void table_clear(struct aliases *al)
{
	for (size_t i = 0; i < al->n; i++)
		alias_clear(&al->v[i]);
	free(al->v);
	al->v = NULL;
	al->n = 0;
}

void aliases_free(struct aliases *al)
{
	if (al == NULL)
		return;
	table_clear(al);
	free(al->path);
	free(al);
}

size_t aliases_count(const struct aliases *al)
{
	return al != NULL ? al->n : 0;
}

static int cmp_alias(const void *a, const void *b)
{
	return strcmp(((const struct alias *)a)->key,
		      ((const struct alias *)b)->key);
}

static struct alias *find(struct alias *v, size_t n, const char *key)
{
	struct alias probe = { .key = (char *)key };

	if (n == 0)
		return NULL;
	return bsearch(&probe, v, n, sizeof(*v), cmp_alias);
}

const char *aliases_entry(const struct aliases *al, size_t i,
			  unsigned *line_r, const char *const **targets_r,
			  size_t *n_r)
{
	const struct alias *a = &al->v[i];

	*line_r = a->line;
	*targets_r = (const char *const *)a->targets;
	*n_r = a->n_targets;
	return a->key;
}

void aliases_log_errors(enum log_level level, const char *context,
			const char *err, const char *kept)
{
	char prefix[256];

	snprintf(prefix, sizeof(prefix), "%s: ", context);
	log_lines(level, prefix, err != NULL ? err : "out of memory", kept);
}

size_t aliases_lookup(const struct aliases *al, const char *key,
		      const char *const **targets_r)
{
	struct alias *a;

	if (al == NULL || (a = find(al->v, al->n, key)) == NULL)
		return 0;
	*targets_r = (const char *const *)a->final;
	return a->n_final;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Make "word" (bare, taken in domain) or "local@domain" into a key in a
 * local domain. Returns 0, or -1 with a reason in *why_r. */
static int make_key(const struct config *cfg, const char *word,
		    const char *domain, char *key, const char **why_r)
{
	char full[ADDR_KEY_SIZE + 1];
	const char *at = strrchr(word, '@');

	if (at == NULL) {
		if (snprintf(full, sizeof(full), "%s@%s", word, domain) >=
		    (int)sizeof(full)) {
			*why_r = "address too long";
			return -1;
		}
		word = full;
	}
	if (addr_key_from_string(word, key, ADDR_KEY_SIZE, why_r) < 0)
		return -1;
	if (config_find_domain(cfg, strrchr(key, '@') + 1) == NULL) {
		*why_r = "not in a local domain";
		return -1;
	}
	return 0;
}

/* Add one alias "key: targets" (targets made keys in domain). */
static int add_alias(struct aliases *al, struct errs *e,
		     const struct config *cfg, unsigned line, const char *key,
		     char *list, const char *domain)
{
	struct alias *grown, *a;
	char *word;

	grown = realloc(al->v, (al->n + 1) * sizeof(*al->v));
	if (grown == NULL)
		return -1;
	al->v = grown;
	a = &al->v[al->n];
	memset(a, 0, sizeof(*a));
	if ((a->key = strdup(key)) == NULL)
		return -1;
	a->line = line;
	al->n++;
	while ((word = strsep(&list, ",")) != NULL) {
		char tkey[ADDR_KEY_SIZE], **tg;
		const char *why = NULL;

		word = trim(word);
		if (*word == '\0') {
			err_add(e, line, "empty target in the list");
			continue;
		}
		if (make_key(cfg, word, domain, tkey, &why) < 0) {
			err_add(e, line, "target \"%s\": %s", word, why);
			continue;
		}
		tg = realloc(a->targets, (a->n_targets + 1) * sizeof(*tg));
		if (tg == NULL)
			return -1;
		a->targets = tg;
		if ((a->targets[a->n_targets] = strdup(tkey)) == NULL)
			return -1;
		a->n_targets++;
	}
	if (a->n_targets == 0)
		err_add(e, line, "alias %s has no usable target", key);
	return 0;
}

static int parse_line(struct aliases *al, struct errs *e,
		      const struct config *cfg, unsigned line, char *s)
{
	char *colon, *name, *list;

	s = trim(s);
	if (*s == '\0' || *s == '#')
		return 0;
	colon = strchr(s, ':');
	if (colon == NULL) {
		err_add(e, line, "expected \"alias: target[, target...]\"");
		return 0;
	}
	*colon = '\0';
	name = trim(s);
	list = colon + 1;
	if (*name == '\0' || strpbrk(name, " \t,") != NULL) {
		err_add(e, line, "expected an alias name before \":\"");
		return 0;
	}
	if (strchr(name, '@') != NULL) {
		char key[ADDR_KEY_SIZE];
		const char *why = NULL;

		if (make_key(cfg, name, "", key, &why) < 0) {
			err_add(e, line, "alias \"%s\": %s", name, why);
			return 0;
		}
		return add_alias(al, e, cfg, line, key, list, strrchr(key, '@') + 1);
	}
	/* A bare name is an alias in every local domain. */
	for (size_t d = 0; d < cfg->n_domains; d++) {
		char key[ADDR_KEY_SIZE], *copy;
		const char *why = NULL;
		int rc;

		if (make_key(cfg, name, cfg->domains[d].name, key, &why) < 0) {
			err_add(e, line, "alias \"%s\": %s", name, why);
			return 0;
		}
		if ((copy = strdup(list)) == NULL)
			return -1;
		/* Report target errors once, not once per domain. */
		struct errs quiet = { .name = e->name };

		rc = add_alias(al, d == 0 ? e : &quiet, cfg, line, key, copy,
			       cfg->domains[d].name);
		free(quiet.text);
		free(copy);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Append key to a's final list unless present. */
static int add_final(struct alias *a, char *key)
{
	char **grown;

	for (size_t i = 0; i < a->n_final; i++)
		if (strcmp(a->final[i], key) == 0)
			return 0;
	grown = realloc(a->final, (a->n_final + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	a->final = grown;
	a->final[a->n_final++] = key;
	return 0;
}

/* Depth-first expansion; a target met again on the stack is a loop.
 * Returns 0, -1 out of memory, 1 loop (reported). */
static int expand(struct aliases *al, struct errs *e, struct alias *a)
{
	if (a->mark == 2)
		return 0;
	if (a->mark == 1)
		return 1;
	a->mark = 1;
	for (size_t i = 0; i < a->n_targets; i++) {
		struct alias *t = find(al->v, al->n, a->targets[i]);
		int rc;

		if (t == NULL) {
			if (add_final(a, a->targets[i]) < 0)
				return -1;
			continue;
		}
		rc = expand(al, e, t);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			err_add(e, a->line, "alias loop: %s -> %s", a->key,
				t->key);
			a->mark = 2;
			return 1;
		}
		for (size_t j = 0; j < t->n_final; j++)
			if (add_final(a, t->final[j]) < 0)
				return -1;
	}
	a->mark = 2;
	return 0;
}

static int check_duplicates(struct aliases *al, struct errs *e)
{
	for (size_t i = 1; i < al->n; i++)
		if (strcmp(al->v[i - 1].key, al->v[i].key) == 0) {
			struct alias *a = &al->v[i - 1], *b = &al->v[i];

			if (a->line > b->line) {
				struct alias *t = a;
				a = b;
				b = t;
			}
			err_add(e, b->line, "duplicate alias %s (already on line %u)",
				b->key, a->line);
		}
	return 0;
}

static int parse_into(struct aliases *al, const char *name, const char *text,
		      size_t len, const struct config *cfg, char **err_r)
{
	struct errs e = { .name = name };
	char *copy;
	size_t pos = 0;
	unsigned line = 0;
	int rc = 0;

	*err_r = NULL;
	if (memchr(text, '\0', len) != NULL) {
		err_add(&e, 1, "NUL byte in file");
		*err_r = e.text;
		return -1;
	}
	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	while (pos < len && rc == 0) {
		char *nl = memchr(copy + pos, '\n', len - pos);
		char *s = copy + pos;

		if (nl != NULL)
			*nl = '\0';
		line++;
		rc = parse_line(al, &e, cfg, line, s);
		pos = nl != NULL ? (size_t)(nl - copy) + 1 : len;
	}
	free(copy);
	if (rc == 0 && al->n > 0) {
		qsort(al->v, al->n, sizeof(*al->v), cmp_alias);
		check_duplicates(al, &e);
	}
	for (size_t i = 0; rc == 0 && e.len == 0 && i < al->n; i++)
		if (expand(al, &e, &al->v[i]) < 0)
			rc = -1;
	if (rc < 0 || e.oom) {
		free(e.text);
		errno = ENOMEM;
		return -1;
	}
	if (e.len > 0) {
		*err_r = e.text;
		return -1;
	}
	return 0;
}

int aliases_parse(const char *name, const char *text, size_t len,
		  const struct config *cfg, struct aliases **al_r,
		  char **err_r)
{
	struct aliases *al = calloc(1, sizeof(*al));

	*err_r = NULL;
	if (al == NULL)
		return -1;
	if (parse_into(al, name, text, len, cfg, err_r) < 0) {
		aliases_free(al);
		return -1;
	}
	*al_r = al;
	return 0;
}

static char *cannot_read(const char *path)
{
	const char *why = strerror(errno);
	int n = snprintf(NULL, 0, "%s: cannot read: %s\n", path, why);
	char *s = n > 0 ? malloc((size_t)n + 1) : NULL;

	if (s != NULL)
		snprintf(s, (size_t)n + 1, "%s: cannot read: %s\n", path, why);
	return s;
}

/* Read path into a fresh table. */
static int load_table(const char *path, const struct config *cfg,
		      struct aliases *al, char **err_r)
{
	char *text = NULL;
	size_t len = 0;
	int fd_rc;

	if (stat(path, &al->st) < 0 ||
	    (fd_rc = fs_read_file(path, ALIASES_MAX_SIZE, &text, &len)) < 0) {
		*err_r = cannot_read(path);
		return -1;
	}
	fd_rc = parse_into(al, path, text, len, cfg, err_r);
	free(text);
	return fd_rc;
}

int aliases_load(const char *path, const struct config *cfg,
		 struct aliases **al_r, char **err_r)
{
	struct aliases *al = calloc(1, sizeof(*al));

	*err_r = NULL;
	if (al == NULL || (al->path = strdup(path)) == NULL) {
		free(al);
		return -1;
	}
	if (load_table(path, cfg, al, err_r) < 0) {
		aliases_free(al);
		return -1;
	}
	*al_r = al;
	return 0;
}

const char *aliases_path(const struct aliases *al)
{
	return al->path;
}

const struct stat *aliases_stat(const struct aliases *al)
{
	return &al->st;
}

int aliases_reload_prepare(const char *path, const struct stat *known,
			   const struct config *cfg, struct aliases **fresh_r,
			   char **err_r)
{
	struct stat st;

	*err_r = NULL;
	*fresh_r = NULL;
	if (stat(path, &st) < 0) {
		*err_r = cannot_read(path);
		return -1;
	}
	if (fs_same_file(&st, known))
		return 0;
	return aliases_load(path, cfg, fresh_r, err_r) < 0 ? -1 : 1;
}

void aliases_reload_commit(struct aliases *al, struct aliases *fresh)
{
	table_clear(al);
	al->v = fresh->v;
	al->n = fresh->n;
	al->st = fresh->st;
	fresh->v = NULL;
	fresh->n = 0;
	aliases_free(fresh);
}

int aliases_reload(struct aliases *al, const struct config *cfg,
		   char **err_r)
{
	struct aliases *fresh;
	int rc;

	*err_r = NULL;
	if (al->path == NULL)
		return 0;
	rc = aliases_reload_prepare(al->path, &al->st, cfg, &fresh, err_r);
	if (rc == 1)
		aliases_reload_commit(al, fresh);
	return rc;
}
