/* common/config/config_parser.c: the parser's primitives every keyword
 * handler uses: the error list (every error of a file, with its line),
 * allocation that records running out of memory, and paths made absolute
 * against the file's directory. */
#include "autoconf.h"

#include "common/config/config_parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Errors kept per file: a hostile file cannot cost much. */
#define CFG_MAX_ERRORS 100

void config_err(struct config_parser *p, unsigned line, const char *fmt, ...)
{
	char msg[512];
	char *text;
	va_list ap;
	int n;

	if (p->n_errs >= CFG_MAX_ERRORS) {
		p->dropped++;
		return;
	}
	if (p->n_errs == p->cap_errs) {
		size_t cap = p->cap_errs ? 2 * p->cap_errs : 8;
		struct config_error *e = realloc(p->errs, cap * sizeof(*e));

		if (e == NULL) {
			p->oom = true;
			return;
		}
		p->errs = e;
		p->cap_errs = cap;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = asprintf(&text, "%s:%u: %s\n", p->name, line, msg);
	else
		n = asprintf(&text, "%s: %s\n", p->name, msg);
	if (n < 0) {
		p->oom = true;
		return;
	}
	p->errs[p->n_errs].line = line;
	p->errs[p->n_errs].seq = p->n_errs;
	p->errs[p->n_errs].text = text;
	p->n_errs++;
}

void *config_alloc(struct config_parser *p, size_t size)
{
	void *m = calloc(1, size);

	if (m == NULL)
		p->oom = true;
	return m;
}

char *config_strdup(struct config_parser *p, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		p->oom = true;
	return d;
}

/* Join a relative path to the base directory; "./x" becomes "base/x". */
static char *resolve(struct config_parser *p, const char *path)
{
	char *joined;

	if (path[0] == '/' || p->base_dir == NULL || p->base_dir[0] == '\0')
		return config_strdup(p, path);
	while (path[0] == '.' && path[1] == '/')
		path += strspn(path + 1, "/") + 1;
	if (path[0] == '\0' || strcmp(path, ".") == 0)
		return config_strdup(p, p->base_dir);
	if (asprintf(&joined, "%s%s%s", p->base_dir,
		     p->base_dir[strlen(p->base_dir) - 1] == '/' ? "" : "/",
		     path) < 0) {
		p->oom = true;
		return NULL;
	}
	return joined;
}

char *config_resolve_path(struct config_parser *p, const char *path)
{
	return resolve(p, path);
}
