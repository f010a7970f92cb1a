/* admin/check_report.c: the findings of `kantorpos check` — collecting
 * them, their printed form and summary, and the line format that carries
 * them from the child that checks as run_as to the parent that prints. */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/check.h"
#include "common/base/fsutil.h"

/* Control characters (a tab too) would break the one-line forms. */
static void flatten(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void add_text(struct check_report *r, enum check_severity sev,
		     const char *file, size_t filelen, unsigned line,
		     const char *text, size_t textlen)
{
	struct check_finding *f;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct check_finding *v = realloc(r->v, cap * sizeof(*v));

		if (v == NULL) {
			r->oom = true;
			return;
		}
		r->v = v;
		r->cap = cap;
	}
	f = &r->v[r->n];
	f->sev = sev;
	f->line = line;
	f->file = strndup(file, filelen);
	f->text = strndup(text, textlen);
	if (f->file == NULL || f->text == NULL) {
		free(f->file);
		free(f->text);
		r->oom = true;
		return;
	}
	flatten(f->file);
	flatten(f->text);
	r->n++;
	if (sev == CHECK_ERROR)
		r->errors++;
	else
		r->warnings++;
}

void check_add(struct check_report *r, enum check_severity sev,
	       const char *file, unsigned line, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	add_text(r, sev, file, strlen(file), line, text, strlen(text));
}

/* One "NAME:LINE: reason" or "NAME: reason" line of len bytes. */
static void add_located(struct check_report *r, enum check_severity sev,
			const char *name, const char *s, size_t len)
{
	size_t nl = strlen(name), i;
	unsigned long line = 0;

	if (len <= nl + 1 || strncmp(s, name, nl) != 0 || s[nl] != ':') {
		add_text(r, sev, name, nl, 0, s, len);
		return;
	}
	i = nl + 1;
	if (s[i] >= '0' && s[i] <= '9') {
		size_t d = i;

		while (d < len && s[d] >= '0' && s[d] <= '9' && line < 1000000000)
			line = line * 10 + (unsigned long)(s[d++] - '0');
		if (d < len && s[d] == ':')
			i = d + 1;
		else
			line = 0;
	}
	i += i < len && s[i] == ' ';
	add_text(r, sev, name, nl, (unsigned)line, s + i, len - i);
}

void check_add_lines(struct check_report *r, enum check_severity sev,
		     const char *name, const char *text)
{
	while (text != NULL && *text != '\0') {
		size_t len = strcspn(text, "\n");

		if (len > 0)
			add_located(r, sev, name, text, len);
		text += len + (text[len] == '\n');
	}
}

void check_format(const struct check_finding *f, char *buf, size_t size)
{
	const char *sev = f->sev == CHECK_ERROR ? "error" : "warning";

	if (f->line > 0)
		snprintf(buf, size, "%s:%u: %s: %s", f->file, f->line, sev,
			 f->text);
	else
		snprintf(buf, size, "%s: %s: %s", f->file, sev, f->text);
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

void check_summary(const struct check_report *r, const char *file,
		   char *buf, size_t size)
{
	char count[64] = "";
	size_t errors = r->errors + (r->oom ? 1 : 0);

	if (r->users >= 0)
		snprintf(count, sizeof(count), " (%ld user%s)", r->users,
			 plural((size_t)r->users));
	if (errors == 0 && r->warnings == 0)
		snprintf(buf, size, "%s: ok%s", file, count);
	else if (errors == 0)
		snprintf(buf, size, "%s: ok with %zu warning%s%s", file,
			 r->warnings, plural(r->warnings), count);
	else
		snprintf(buf, size, "%s: %zu error%s, %zu warning%s", file,
			 errors, plural(errors), r->warnings,
			 plural(r->warnings));
}

/* The wire form, one finding a line: "E|W TAB line TAB file TAB text",
 * then "U TAB users". */
int check_write(int fd, const struct check_report *r)
{
	char count[32];
	int n;

	for (size_t i = 0; i < r->n; i++) {
		const struct check_finding *f = &r->v[i];
		char *line;

		n = asprintf(&line, "%c\t%u\t%s\t%s\n",
			     f->sev == CHECK_ERROR ? 'E' : 'W', f->line, f->file,
			     f->text);
		if (n < 0)
			return -1;
		if (fs_write_all(fd, line, (size_t)n) < 0) {
			free(line);
			return -1;
		}
		free(line);
	}
	if (r->oom) {
		errno = ENOMEM;
		return -1;
	}
	n = snprintf(count, sizeof(count), "U\t%ld\n", r->users);
	return fs_write_all(fd, count, (size_t)n);
}

/* "U TAB users" (users may be -1). */
static int parse_users(struct check_report *r, const char *p, const char *nl)
{
	char *end;
	long users;

	if (nl - p < 3 || p[1] != '\t')
		return -1;
	errno = 0;
	users = strtol(p + 2, &end, 10);
	if (errno != 0 || end != nl || users < -1)
		return -1;
	r->users = users;
	return 0;
}

int check_parse(struct check_report *r, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *t1, *t2, *t3;
		unsigned long line = 0;

		if (nl != NULL && p[0] == 'U') {
			if (parse_users(r, p, nl) < 0)
				return -1;
			p = nl + 1;
			continue;
		}
		if (nl == NULL || nl - p < 6 || (p[0] != 'E' && p[0] != 'W') ||
		    p[1] != '\t')
			return -1;
		t1 = p + 2;
		for (t2 = t1; t2 < nl && *t2 >= '0' && *t2 <= '9'; t2++)
			if ((line = line * 10 + (unsigned long)(*t2 - '0')) >
			    1000000000)
				return -1;
		if (t2 == t1 || t2 == nl || *t2 != '\t')
			return -1;
		t2++;
		t3 = memchr(t2, '\t', (size_t)(nl - t2));
		if (t3 == NULL || t3 == t2)
			return -1;
		add_text(r, p[0] == 'E' ? CHECK_ERROR : CHECK_WARNING, t2,
			 (size_t)(t3 - t2), (unsigned)line, t3 + 1,
			 (size_t)(nl - t3 - 1));
		p = nl + 1;
	}
	return 0;
}

void check_report_free(struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].file);
		free(r->v[i].text);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
	r->users = -1;
}
