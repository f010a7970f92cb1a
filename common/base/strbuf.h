/* common/base/strbuf.h: a growable text buffer, for what is built piece by
 * piece before it is written or sent (a DSN, an envelope file, a user db,
 * a header field). It stays NUL-terminated; a failed allocation makes it
 * sticky-failed, so a builder adds everything and checks once at the end. */
#ifndef KANTORPOS_COMMON_STRBUF_H
#define KANTORPOS_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *p;     /* the text, NUL-terminated (NULL while empty) */
	size_t len;  /* octets in p, without the NUL */
	size_t cap;  /* room allocated at p */
	bool failed; /* an allocation failed: the text is incomplete */
};

#define STRBUF_INIT { NULL, 0, 0, false }

/* Room for n more octets (and the NUL) after the text: a pointer to it,
 * or NULL when the buffer has failed. The caller writes at most n octets
 * there and then adds what it wrote with strbuf_grew. */
char *strbuf_room(struct strbuf *sb, size_t n);
void strbuf_grew(struct strbuf *sb, size_t n);

void strbuf_add(struct strbuf *sb, const char *s, size_t n);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The text, now the caller's to free (NULL when the buffer failed, which
 * it then frees); the buffer is empty again. */
char *strbuf_take(struct strbuf *sb, size_t *len_r);

void strbuf_free(struct strbuf *sb);

#endif
