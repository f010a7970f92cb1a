/* common/auth/dkim_tags.h: the tag-list of DKIM (RFC 6376 §3.2), the
 * syntax of a DKIM-Signature value and of a key record: "name=value"
 * specs separated by ";", FWS around names, "=" and values, a trailing
 * ";" allowed. Tag names are case-sensitive; a name given twice makes the
 * whole list invalid.
 *
 * Pure code: no allocation, no globals; the tags point into the text. */
#ifndef KANTORPOS_COMMON_DKIM_TAGS_H
#define KANTORPOS_COMMON_DKIM_TAGS_H

#include <stdbool.h>
#include <stddef.h>

#define DKIM_TAGS_MAX 64

struct dkim_tag {
	const char *name;
	size_t name_len;
	const char *value;   /* FWS at both ends left out */
	size_t value_len;
	size_t raw_start;    /* offsets of all between "=" and ";" (or the */
	size_t raw_end;      /* end), FWS included: what b= deletion cuts */
};

struct dkim_taglist {
	size_t n;
	struct dkim_tag tag[DKIM_TAGS_MAX];
};

/* Parse s[0..len) into *t. Returns 0, or -1 with *why_r set to a static
 * reason ("duplicate tag", "bad tag name", ...). */
int dkim_tags_parse(const char *s, size_t len, struct dkim_taglist *t,
		    const char **why_r);

/* The tag called name, or NULL. */
const struct dkim_tag *dkim_tags_get(const struct dkim_taglist *t,
				     const char *name);

/* Is the tag's value exactly v? */
bool dkim_tag_is(const struct dkim_tag *tag, const char *v);

/* Does the tag's value, a colon-separated list (h=, s=, t=, q=), have
 * the item word? WSP around items is allowed. */
bool dkim_tag_list_has(const struct dkim_tag *tag, const char *word);

/* Decode a base64 value (b=, bh=, p=) into out (size bytes), the FWS
 * inside it left out. Returns 0 with the length in *len_r, or -1 (bad
 * base64, too long). */
int dkim_tag_b64(const struct dkim_tag *tag, unsigned char *out,
		 size_t size, size_t *len_r);

#endif
