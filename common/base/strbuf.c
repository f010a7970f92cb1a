/* common/base/strbuf.c: the growable text buffer of strbuf.h. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/strbuf.h"

char *strbuf_room(struct strbuf *sb, size_t n)
{
	if (sb->failed)
		return NULL;
	if (n >= (size_t)-1 / 4 - sb->len) {
		sb->failed = true;
		return NULL;
	}
	if (sb->len + n + 1 > sb->cap) {
		size_t cap = 2 * (sb->len + n + 1) + 256;
		char *p = realloc(sb->p, cap);

		if (p == NULL) {
			sb->failed = true;
			return NULL;
		}
		sb->p = p;
		sb->cap = cap;
	}
	return sb->p + sb->len;
}

void strbuf_grew(struct strbuf *sb, size_t n)
{
	if (sb->failed)
		return;
	sb->len += n;
	sb->p[sb->len] = '\0';
}

void strbuf_add(struct strbuf *sb, const char *s, size_t n)
{
	char *room = strbuf_room(sb, n);

	if (room == NULL)
		return;
	memcpy(room, s, n);
	strbuf_grew(sb, n);
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	char *room = strbuf_room(sb, (size_t)n);

	if (room == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(room, (size_t)n + 1, fmt, ap);
	va_end(ap);
	strbuf_grew(sb, (size_t)n);
}

char *strbuf_take(struct strbuf *sb, size_t *len_r)
{
	char *p = sb->failed ? NULL : sb->p;

	if (p == NULL && !sb->failed)
		p = strdup("");
	if (sb->failed)
		free(sb->p);
	if (len_r != NULL)
		*len_r = p != NULL ? sb->len : 0;
	*sb = (struct strbuf)STRBUF_INIT;
	return p;
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->p);
	*sb = (struct strbuf)STRBUF_INIT;
}
