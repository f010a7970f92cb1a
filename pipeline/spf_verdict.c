/* pipeline/spf_verdict.c: the Received-SPF field (RFC 7208 §9.1) and the
 * default explanation of a fail (§8.4). */
#include "autoconf.h"

#include "pipeline/spf_verdict.h"

#include <stdio.h>
#include <string.h>

#define FOLD_AT 78 /* RFC 5322 §2.1.1 */

struct field {
	char *buf;
	size_t size, len, col;
	bool bad;
};

static void put(struct field *f, const char *s, size_t n)
{
	if (f->bad || f->len + n + 1 > f->size) {
		f->bad = true;
		return;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->col += n;
	f->buf[f->len] = '\0';
}

/* One word of the field, after a blank or, when the line would pass
 * FOLD_AT, on a new folded line. */
static void word(struct field *f, const char *s, size_t n)
{
	if (f->col + 1 + n > FOLD_AT) {
		put(f, "\r\n ", 3);
		f->col = 1;
	} else {
		put(f, " ", 1);
	}
	put(f, s, n);
}

/* atext of RFC 5322 §3.2.3 (ASCII only: anything else is quoted). */
static bool atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool dot_atom(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' ? s[i + 1] == '.' : !atext((unsigned char)s[i]))
			return false;
	return true;
}

/* s with a backslash before each octet of specials and "?" for controls,
 * into out (room for 2 * strlen(s) + 1). Returns the length. */
static size_t escape(const char *s, const char *specials, char *out)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (strchr(specials, c) != NULL)
			out[o++] = '\\';
		out[o++] = c < ' ' || c == 0x7f ? '?' : (char)c;
	}
	out[o] = '\0';
	return o;
}

/* key=value; with the value a dot-atom or a quoted-string. */
static void pair(struct field *f, const char *key, const char *value)
{
	char esc[2 * ADDR_TEXT_SIZE + 1], text[2 * ADDR_TEXT_SIZE + 64];
	int n;

	if (strlen(value) >= ADDR_TEXT_SIZE) {
		f->bad = true;
		return;
	}
	if (dot_atom(value))
		n = snprintf(text, sizeof(text), "%s=%s;", key, value);
	else {
		escape(value, "\"\\", esc);
		n = snprintf(text, sizeof(text), "%s=\"%s\";", key, esc);
	}
	word(f, text, (size_t)n);
}

/* The result in words (§9.1's examples), the receiver first. */
static void comment(struct field *f, const struct spf_verdict *v,
		    const char *receiver)
{
	char text[4 * ADDR_TEXT_SIZE], esc[8 * ADDR_TEXT_SIZE + 1];
	const char *id = v->identity, *ip = v->client_ip;
	size_t n;

	switch (v->result) {
	case SPF_PASS:
		snprintf(text, sizeof(text), "domain of %s designates %s as "
			 "permitted sender", id, ip);
		break;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
		snprintf(text, sizeof(text), "domain of %s%s does not designate"
			 " %s as permitted sender",
			 v->result == SPF_SOFTFAIL ? "transitioning " : "", id,
			 ip);
		break;
	case SPF_NEUTRAL:
		snprintf(text, sizeof(text), "%s is neither permitted nor "
			 "denied by domain of %s", ip, id);
		break;
	case SPF_NONE:
		snprintf(text, sizeof(text), "domain of %s does not designate "
			 "permitted sender hosts", id);
		break;
	case SPF_TEMPERROR:
		snprintf(text, sizeof(text), "error in processing during "
			 "lookup of %s", id);
		break;
	case SPF_PERMERROR:
		snprintf(text, sizeof(text), "permanent error in processing "
			 "domain of %s", id);
		break;
	}
	snprintf(esc, sizeof(esc), "(%s:", receiver);
	word(f, esc, strlen(esc));
	n = escape(text, "()\\", esc);
	esc[n++] = ')';
	for (char *w = esc, *end = esc + n; w < end;) {
		char *sp = memchr(w, ' ', (size_t)(end - w));
		size_t len = sp != NULL ? (size_t)(sp - w) : (size_t)(end - w);

		word(f, w, len);
		w += len + 1;
	}
}

size_t spf_received_format(const struct spf_verdict *v, const char *receiver,
			   char *buf, size_t size)
{
	struct field f = { buf, size, 0, 0, false };
	const char *result = spf_result_str(v->result);

	put(&f, "Received-SPF:", 13);
	word(&f, result, strlen(result));
	comment(&f, v, receiver);
	pair(&f, "receiver", receiver);
	pair(&f, "client-ip", v->client_ip);
	if (!v->helo_identity)
		pair(&f, "envelope-from", v->identity);
	if (v->helo[0] != '\0')
		pair(&f, "helo", v->helo);
	pair(&f, "identity", v->helo_identity ? "helo" : "mailfrom");
	if (v->mechanism[0] != '\0')
		pair(&f, "mechanism", v->mechanism);
	if (v->problem[0] != '\0' &&
	    (v->result == SPF_TEMPERROR || v->result == SPF_PERMERROR))
		pair(&f, "problem", v->problem);
	put(&f, "\r\n", 2);
	return f.bad ? 0 : f.len;
}

void spf_fail_text(const struct spf_verdict *v, char *buf, size_t size)
{
	size_t o = 0;

	if (v->explanation[0] == '\0') {
		snprintf(buf, size, "SPF: %s does not designate %s as "
			 "permitted sender", v->domain, v->client_ip);
		return;
	}
	/* A reply line is ASCII text (RFC 5321 §4.2). */
	for (const char *p = v->explanation; *p != '\0' && o + 1 < size; p++)
		buf[o++] = (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f
				   ? *p : '?';
	buf[o] = '\0';
}
