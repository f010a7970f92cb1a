/* common/auth/authres.c: the Authentication-Results field (RFC 8601
 * §2.2), written and its authserv-id read back. */
#include "autoconf.h"

#include "common/auth/authres.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FOLD_AT 78 /* RFC 5322 §2.1.1 */

/* tspecials of RFC 2045 §5.1, which a token leaves out. */
static bool is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* RFC 2045 token: visible ASCII but tspecials. */
static bool is_token_char(char c)
{
	return c > ' ' && c < 0x7f && !is_tspecial(c);
}

static bool is_atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c);
}

static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!is_token_char(*s))
			return false;
	return true;
}

/* dot-atom of atext over s[0..len) (RFC 5322 §3.2.3). */
static bool is_dot_atom(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext(s[i]))
			return false;
	return true;
}

/* [[local-part] "@"] domain-name of pvalue (§2.2), local-part a
 * dot-atom: written bare. */
static bool is_addr(const char *s)
{
	const char *at = strrchr(s, '@');
	const char *dom = at != NULL ? at + 1 : s;

	if (at != NULL && at != s && !is_dot_atom(s, (size_t)(at - s)))
		return false;
	if (!is_dot_atom(dom, strlen(dom)))
		return false;
	for (const char *p = dom; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		      *p == '_'))
			return false;
	return true;
}

/* A method, result or property name: letters, digits, "-", "_", ".". */
static bool is_keyword(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

static void put(struct authres *ar, const char *s, size_t len)
{
	if (ar->bad || ar->len + len + 3 > sizeof(ar->buf)) {
		ar->bad = true;
		return;
	}
	memcpy(ar->buf + ar->len, s, len);
	ar->len += len;
	ar->col += len;
}

static void newline(struct authres *ar, const char *indent)
{
	put(ar, "\r\n", 2);
	ar->col = 0;
	put(ar, indent, strlen(indent));
}

/* A word of word_len octets comes: fold before it when it would pass
 * FOLD_AT, else a blank. */
static void space_for(struct authres *ar, size_t word_len)
{
	if (ar->col + 1 + word_len > FOLD_AT)
		newline(ar, "\t");
	else
		put(ar, " ", 1);
}

/* s between open and close into out (room for AUTHRES_VALUE_MAX + 3):
 * the octets of specials escaped with '\', controls made blanks, cut so
 * that no more than AUTHRES_VALUE_MAX octets stand between the two (a
 * line stays far below 998 octets), and not inside a UTF-8 sequence.
 * Returns the length. */
static size_t enclose(const char *s, char open, char close,
		      const char *specials, char *out)
{
	size_t o = 0, i;

	out[o++] = open;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		bool esc = strchr(specials, c) != NULL;

		if (o - 1 + esc + 1 > AUTHRES_VALUE_MAX)
			break;
		if (esc)
			out[o++] = '\\';
		out[o++] = c < ' ' || c == 0x7f ? ' ' : (char)c;
	}
	if (s[i] != '\0') {
		while (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
			o--;
	}
	out[o++] = close;
	return o;
}

static size_t quote(const char *s, char *q)
{
	return enclose(s, '"', '"', "\"\\", q);
}

/* "name=value" as one word, the value bare when it may be. */
static void put_pair(struct authres *ar, const char *name, const char *value,
		     bool always_quote)
{
	char q[AUTHRES_VALUE_MAX + 3];
	size_t nlen = strlen(name), vlen = strlen(value);

	if (always_quote || vlen > AUTHRES_VALUE_MAX ||
	    (!is_token(value) && !is_addr(value))) {
		vlen = quote(value, q);
		value = q;
	}
	space_for(ar, nlen + 1 + vlen);
	put(ar, name, nlen);
	put(ar, "=", 1);
	put(ar, value, vlen);
}

void authres_begin(struct authres *ar, const char *authserv_id)
{
	char q[AUTHRES_VALUE_MAX + 3];
	size_t len = strlen(authserv_id);

	ar->len = ar->col = 0;
	ar->n = 0;
	ar->bad = false;
	put(ar, "Authentication-Results:", 23);
	if (!is_token(authserv_id)) {
		len = quote(authserv_id, q);
		authserv_id = q;
	}
	space_for(ar, len);
	put(ar, authserv_id, len);
}

void authres_result(struct authres *ar, const char *method,
		    const char *result)
{
	if (!is_keyword(method) || !is_keyword(result)) {
		ar->bad = true;
		return;
	}
	put(ar, ";", 1);
	newline(ar, " ");
	put(ar, method, strlen(method));
	put(ar, "=", 1);
	put(ar, result, strlen(result));
	ar->n++;
}

void authres_reason(struct authres *ar, const char *text)
{
	if (ar->n == 0) {
		ar->bad = true;
		return;
	}
	put_pair(ar, "reason", text, true);
}

void authres_prop(struct authres *ar, const char *prop, const char *value)
{
	if (ar->n == 0 || !is_keyword(prop) || strchr(prop, '.') == NULL) {
		ar->bad = true;
		return;
	}
	put_pair(ar, prop, value, false);
}

void authres_comment(struct authres *ar, const char *text)
{
	char c[AUTHRES_VALUE_MAX + 3];
	size_t len = enclose(text, '(', ')', "()\\", c);

	space_for(ar, len);
	put(ar, c, len);
}

const char *authres_end(struct authres *ar, size_t *len_r)
{
	if (ar->n == 0)
		put(ar, "; none", 6);
	put(ar, "\r\n", 2);
	if (ar->bad)
		return NULL;
	ar->buf[ar->len] = '\0';
	*len_r = ar->len;
	return ar->buf;
}

/* The quoted string at s[*i] (its '"'), unquoted into out. */
static int read_quoted(const char *s, size_t len, size_t *i, char *out)
{
	size_t o = 0;

	for ((*i)++; *i < len && s[*i] != '"'; (*i)++) {
		if (s[*i] == '\\' && *i + 1 < len)
			(*i)++;
		if (s[*i] == '\r' || s[*i] == '\n')
			continue; /* folding inside the string */
		if (o == AUTHRES_ID_MAX)
			return -1;
		out[o++] = s[*i];
	}
	if (*i >= len)
		return -1;
	out[o] = '\0';
	return 0;
}

int authres_id_parse(const char *value, size_t len, char *out)
{
	char *s = malloc(len + 1);
	size_t n, i = 0, o = 0;
	int rc = -1;

	if (s == NULL)
		return -1;
	/* Comments become blanks; quoted strings stay as written. */
	n = hdr_strip_comments(value, len, s);
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
			 s[i] == '\n'))
		i++;
	if (i < n && s[i] == '"') {
		rc = read_quoted(s, n, &i, out);
		rc = rc == 0 && out[0] != '\0' ? 0 : -1;
	} else {
		while (i < n && is_token_char(s[i]) && o < AUTHRES_ID_MAX)
			out[o++] = s[i++];
		out[o] = '\0';
		rc = o > 0 && !(i < n && is_token_char(s[i])) ? 0 : -1;
	}
	free(s);
	return rc;
}

bool authres_is_ours(const struct hdr_field *f, const char *id)
{
	char got[AUTHRES_ID_MAX + 1];

	return hdr_name_is(f, "Authentication-Results") &&
	       authres_id_parse(f->value, f->value_len, got) == 0 &&
	       strcasecmp(got, id) == 0;
}
