/* common/auth/dkim_tags.c: the DKIM tag-list (RFC 6376 §3.2). */
#include "autoconf.h"

#include "common/auth/dkim_tags.h"

#include <stdlib.h>
#include <string.h>

#include "common/proto/sasl.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnumpunc(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

/* VALCHAR: %x21-3A / %x3C-7E (printable, not ";"). */
static bool is_valchar(char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

/* Skip FWS at *i: WSP, and CRLF only when WSP follows (a fold). Returns
 * -1 at a CR or LF that is no fold. */
static int skip_fws(const char *s, size_t len, size_t *i)
{
	while (*i < len) {
		if (is_wsp(s[*i])) {
			(*i)++;
		} else if (s[*i] == '\r' && *i + 2 < len && s[*i + 1] == '\n' &&
			   is_wsp(s[*i + 2])) {
			*i += 3;
		} else if (s[*i] == '\r' || s[*i] == '\n') {
			return -1;
		} else {
			break;
		}
	}
	return 0;
}

/* The value from *i to the next ";" or the end: VALCHARs with FWS
 * between them. */
static int parse_value(const char *s, size_t len, size_t *i,
		       struct dkim_tag *tag, const char **why_r)
{
	size_t end;

	tag->raw_start = *i;
	if (skip_fws(s, len, i) < 0)
		goto bad;
	tag->value = s + *i;
	end = *i;
	while (*i < len && s[*i] != ';') {
		if (!is_valchar(s[*i]))
			goto bad;
		(*i)++;
		end = *i;
		if (skip_fws(s, len, i) < 0)
			goto bad;
	}
	tag->value_len = (size_t)(s + end - tag->value);
	tag->raw_end = *i;
	return 0;
bad:
	*why_r = "bad character in tag value";
	return -1;
}

static int parse_spec(const char *s, size_t len, size_t *i,
		      struct dkim_tag *tag, const char **why_r)
{
	size_t start = *i;

	if (*i >= len || !is_alpha(s[*i])) {
		*why_r = "bad tag name";
		return -1;
	}
	while (*i < len && is_alnumpunc(s[*i]))
		(*i)++;
	tag->name = s + start;
	tag->name_len = *i - start;
	if (skip_fws(s, len, i) < 0 || *i >= len || s[*i] != '=') {
		*why_r = "tag without \"=\"";
		return -1;
	}
	(*i)++;
	return parse_value(s, len, i, tag, why_r);
}

static bool seen(const struct dkim_taglist *t, const struct dkim_tag *tag)
{
	for (size_t k = 0; k < t->n; k++)
		if (t->tag[k].name_len == tag->name_len &&
		    memcmp(t->tag[k].name, tag->name, tag->name_len) == 0)
			return true;
	return false;
}

int dkim_tags_parse(const char *s, size_t len, struct dkim_taglist *t,
		    const char **why_r)
{
	size_t i = 0;

	t->n = 0;
	for (;;) {
		struct dkim_tag tag;

		if (skip_fws(s, len, &i) < 0) {
			*why_r = "bad line break";
			return -1;
		}
		if (i == len && t->n > 0)
			return 0; /* after a trailing ";" */
		if (parse_spec(s, len, &i, &tag, why_r) < 0)
			return -1;
		if (seen(t, &tag)) {
			*why_r = "duplicate tag";
			return -1;
		}
		if (t->n == DKIM_TAGS_MAX) {
			*why_r = "too many tags";
			return -1;
		}
		t->tag[t->n++] = tag;
		if (i == len)
			return 0;
		i++; /* the ";" */
	}
}

const struct dkim_tag *dkim_tags_get(const struct dkim_taglist *t,
				     const char *name)
{
	size_t n = strlen(name);

	for (size_t k = 0; k < t->n; k++)
		if (t->tag[k].name_len == n &&
		    memcmp(t->tag[k].name, name, n) == 0)
			return &t->tag[k];
	return NULL;
}

bool dkim_tag_is(const struct dkim_tag *tag, const char *v)
{
	return tag->value_len == strlen(v) &&
	       memcmp(tag->value, v, tag->value_len) == 0;
}

int dkim_tag_b64(const struct dkim_tag *tag, unsigned char *out,
		 size_t size, size_t *len_r)
{
	char *plain = malloc(tag->value_len + 1);
	size_t n = 0;
	enum sasl_result r;

	if (plain == NULL)
		return -1;
	for (size_t i = 0; i < tag->value_len; i++)
		if (!is_wsp(tag->value[i]) && tag->value[i] != '\r' &&
		    tag->value[i] != '\n')
			plain[n++] = tag->value[i];
	/* sasl_b64_decode keeps a byte of out for a NUL. */
	r = sasl_b64_decode(plain, n, out, size, len_r);
	free(plain);
	return r == SASL_OK ? 0 : -1;
}

bool dkim_tag_list_has(const struct dkim_tag *tag, const char *word)
{
	const char *p = tag->value, *end = tag->value + tag->value_len;
	size_t n = strlen(word);

	while (p < end) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		const char *e = colon != NULL ? colon : end;
		const char *q = e;

		while (p < q && (*p == ' ' || *p == '\t'))
			p++;
		while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if ((size_t)(q - p) == n && memcmp(p, word, n) == 0)
			return true;
		p = e + 1;
	}
	return false;
}
