/* common/mail/header.c: header fields one by one, unfolding, and the
 * tolerant RFC 5322 address-list reader (comments, quoted strings,
 * groups, angle addresses). */
#include "autoconf.h"

#include "common/mail/header.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

bool hdr_name_is(const struct hdr_field *f, const char *name)
{
	return strlen(name) == f->name_len &&
	       strncasecmp(f->name, name, f->name_len) == 0;
}

bool hdr_next_field(const char *text, size_t len, size_t *pos,
		    struct hdr_field *f)
{
	while (*pos < len) {
		size_t start = *pos, eol, colon;
		const char *nl = memchr(text + start, '\n', len - start);

		eol = nl != NULL ? (size_t)(nl - text) : len;
		if (eol == start || (eol == start + 1 && text[start] == '\r'))
			return false; /* the empty line ends the header */
		*pos = eol < len ? eol + 1 : len;
		if (is_wsp(text[start]))
			continue; /* a continuation without a field: ignore */
		for (colon = start; colon < eol && text[colon] != ':'; colon++)
			if ((unsigned char)text[colon] <= 0x20 ||
			    (unsigned char)text[colon] >= 0x7f)
				break;
		if (colon == eol || text[colon] != ':' || colon == start)
			continue;
		f->name = text + start;
		f->name_len = colon - start;
		f->value = text + colon + 1;
		/* Continuation lines belong to this field. */
		while (*pos < len && is_wsp(text[*pos])) {
			nl = memchr(text + *pos, '\n', len - *pos);
			*pos = nl != NULL ? (size_t)(nl - text) + 1 : len;
		}
		f->value_len = (size_t)(text + *pos - f->value);
		return true;
	}
	return false;
}

size_t hdr_unfold(const char *v, size_t len, char *buf)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o < HDR_VALUE_MAX; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\r' || c == '\n')
			continue;
		buf[o++] = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : (char)c;
	}
	buf[o] = '\0';
	return o;
}

size_t hdr_strip_comments(const char *s, size_t len, char *out)
{
	size_t o = 0;
	int depth = 0;
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < len && (quoted || depth > 0)) {
			if (depth == 0) {
				out[o++] = c;
				out[o++] = s[i + 1];
			}
			i++;
			continue;
		}
		if (depth == 0 && c == '"') {
			quoted = !quoted;
		} else if (!quoted && c == '(') {
			depth++;
			continue;
		} else if (!quoted && c == ')' && depth > 0) {
			depth--;
			out[o++] = ' ';
			continue;
		}
		if (depth == 0)
			out[o++] = c;
	}
	out[o] = '\0';
	return o;
}

struct list {
	const char *qualify;
	hdr_mailbox_fn *fn;
	void *arg;
	size_t taken;
};

/* One addr-spec candidate, blanks around it trimmed, to the callback. */
static void take(struct list *l, const char *s, size_t len)
{
	struct addr_mailbox mb;

	while (len > 0 && is_wsp(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_wsp(s[len - 1]))
		len--;
	/* An encoded word (RFC 2047) is display text, never an address. */
	if (len >= 4 && s[0] == '=' && s[1] == '?' && s[len - 2] == '?' &&
	    s[len - 1] == '=')
		return;
	if (len == 0)
		return;
	if (l->qualify != NULL && memchr(s, '@', len) == NULL) {
		char full[ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1];
		int n = snprintf(full, sizeof(full), "%.*s@%s", (int)len, s,
				 l->qualify);

		if (n < 0 || (size_t)n >= sizeof(full) ||
		    addr_parse_mailbox(full, (size_t)n, ADDR_OPT_UTF8, &mb,
				       NULL) < 0)
			return;
	} else if (addr_parse_mailbox(s, len, ADDR_OPT_UTF8, &mb, NULL) < 0) {
		return;
	}
	if (l->fn(l->arg, &mb))
		l->taken++;
}

/* One element of an address list (between separators), comments removed:
 * "Name <a@b>", "<@route:a@b>", "a@b", or junk. */
static void element(struct list *l, const char *s, size_t len)
{
	const char *lt = NULL, *gt = NULL;
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && quoted) {
			i++;
		} else if (s[i] == '"') {
			quoted = !quoted;
		} else if (!quoted && s[i] == '<') {
			lt = s + i;
			gt = NULL;
		} else if (!quoted && s[i] == '>' && lt != NULL && gt == NULL) {
			gt = s + i;
		}
	}
	if (lt != NULL && gt != NULL) {
		const char *a = lt + 1, *colon;

		/* Obsolete route "<@a,@b:x@y>": keep what follows the ':'. */
		if (a < gt && *a == '@' &&
		    (colon = memchr(a, ':', (size_t)(gt - a))) != NULL)
			a = colon + 1;
		take(l, a, (size_t)(gt - a));
		return;
	}
	if (lt == NULL)
		take(l, s, len);
}

/* Split an unfolded, comment-free address list at ',' ';' and the ':' that
 * opens a group, outside quotes and angle brackets. */
static void split(struct list *l, const char *s, size_t len)
{
	size_t start = 0;
	bool quoted = false, angle = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (quoted) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == '<') {
			angle = true;
		} else if (c == '>') {
			angle = false;
		} else if (!angle && (c == ',' || c == ';')) {
			element(l, s + start, i - start);
			start = i + 1;
		} else if (!angle && c == ':') {
			/* A group name ends here: what precedes is display
			 * text. */
			start = i + 1;
		}
	}
	if (start < len)
		element(l, s + start, len - start);
}

size_t hdr_address_list(const char *value, size_t len, const char *qualify,
			hdr_mailbox_fn *fn, void *arg)
{
	struct list l = { qualify, fn, arg, 0 };
	char *clean = malloc(len + 1);

	if (clean == NULL)
		return 0;
	split(&l, clean, hdr_strip_comments(value, len, clean));
	free(clean);
	return l.taken;
}
