/* smtpd/params.c: MAIL/RCPT ESMTP parameter parsing. */
#include "autoconf.h"

#include "smtpd/params.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/proto/proto.h"

/* RFC 1870 §3: the SIZE value has at most 20 digits. */
#define PARAMS_SIZE_DIGITS 20

static int fail(struct params_error *err_r, int code, const char *enh,
		const char *why)
{
	if (err_r != NULL) {
		err_r->code = code;
		err_r->enh = enh;
		err_r->why = why;
	}
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int params_xtext_decode(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=') {
			return -1;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	if (size == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

/* One keyword[=value] word of s. */
struct word {
	const char *kw;
	size_t kwlen;
	const char *val; /* NULL without "=" */
	size_t vallen;
};

static bool kw_is(const struct word *w, const char *name)
{
	return w->kwlen == strlen(name) && strncasecmp(w->kw, name, w->kwlen) == 0;
}

static bool val_is(const struct word *w, const char *name)
{
	return w->val != NULL && w->vallen == strlen(name) &&
	       strncasecmp(w->val, name, w->vallen) == 0;
}

/* Cut the next word at *pos; returns false at the end. Refuses control
 * bytes by reporting a word with an empty keyword. */
static bool next_word(const char *s, size_t len, size_t *pos, struct word *w)
{
	size_t i = *pos, start;

	while (i < len && s[i] == ' ')
		i++;
	if (i == len)
		return false;
	start = i;
	while (i < len && s[i] != ' ')
		i++;
	*pos = i;
	w->kw = s + start;
	w->kwlen = i - start;
	w->val = memchr(w->kw, '=', w->kwlen);
	w->vallen = 0;
	if (w->val != NULL) {
		w->vallen = (size_t)(s + i - w->val - 1);
		w->kwlen = (size_t)(w->val - w->kw);
		w->val++;
	}
	return true;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") (RFC 5321 §4.1.2);
 * esmtp-value = 1*(%d33-60 / %d62-126). */
static bool word_syntax_ok(const struct word *w)
{
	if (w->kwlen == 0)
		return false;
	for (size_t i = 0; i < w->kwlen; i++) {
		char c = w->kw[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || c != '-'))
			return false;
	}
	if (w->val == NULL)
		return true;
	if (w->vallen == 0)
		return false;
	for (size_t i = 0; i < w->vallen; i++) {
		unsigned char c = (unsigned char)w->val[i];

		if (c < 33 || c > 126 || c == '=')
			return false;
	}
	return true;
}

/* A size of 1 to 20 digits (RFC 1870 §3, RFC 3030 §2), s[0..len);
 * syntax names the 501 text. */
static int parse_digits(const char *s, size_t len, const char *syntax,
			uint64_t *v_r, struct params_error *err_r)
{
	char num[PARAMS_SIZE_DIGITS + 1];

	if (len == 0 || len > PARAMS_SIZE_DIGITS)
		return fail(err_r, 501, "5.5.4", syntax);
	memcpy(num, s, len);
	num[len] = '\0';
	if (proto_parse_uint(num, UINT64_MAX, v_r) < 0) {
		/* 20 digits may exceed 2^64: that is a size we cannot take,
		 * not a syntax error, and it must never wrap around. */
		if (errno == ERANGE)
			return fail(err_r, 552, "5.3.4",
				    "Message size exceeds fixed maximum message size");
		return fail(err_r, 501, "5.5.4", syntax);
	}
	return 0;
}

static int parse_size(const struct word *w, uint64_t max_size,
		      struct params_mail *p, struct params_error *err_r)
{
	uint64_t v;

	if (w->val == NULL)
		return fail(err_r, 501, "5.5.4", "Syntax error in SIZE parameter");
	if (parse_digits(w->val, w->vallen, "Syntax error in SIZE parameter",
			 &v, err_r) < 0)
		return -1;
	if (max_size != 0 && v > max_size)
		return fail(err_r, 552, "5.3.4",
			    "Message size exceeds fixed maximum message size");
	p->has_size = true;
	p->size = v;
	return 0;
}

static int parse_body(const struct word *w, struct params_mail *p,
		      struct params_error *err_r)
{
	if (val_is(w, "7BIT"))
		p->body = PARAMS_BODY_7BIT;
	else if (val_is(w, "8BITMIME"))
		p->body = PARAMS_BODY_8BITMIME;
	else if (val_is(w, "BINARYMIME"))
		p->body = PARAMS_BODY_BINARYMIME;
	else
		return fail(err_r, 501, "5.5.4", "Unknown BODY value");
	return 0;
}

static int parse_auth(const struct word *w, struct params_mail *p,
		      struct params_error *err_r)
{
	if (w->val == NULL ||
	    params_xtext_decode(w->val, w->vallen, p->auth, sizeof(p->auth)) < 0)
		return fail(err_r, 501, "5.5.4", "Syntax error in AUTH parameter");
	p->has_auth = true;
	return 0;
}

int params_parse_mail(const char *s, size_t len, uint64_t max_size,
		      struct params_mail *p_r, struct params_error *err_r)
{
	bool seen_body = false;
	struct word w;
	size_t pos = 0;

	memset(p_r, 0, sizeof(*p_r));
	while (next_word(s, len, &pos, &w)) {
		int rc;

		if (!word_syntax_ok(&w))
			return fail(err_r, 501, "5.5.4", "Syntax error in parameters");
		if (kw_is(&w, "SIZE")) {
			if (p_r->has_size)
				return fail(err_r, 501, "5.5.4", "SIZE given twice");
			rc = parse_size(&w, max_size, p_r, err_r);
		} else if (kw_is(&w, "BODY")) {
			if (seen_body)
				return fail(err_r, 501, "5.5.4", "BODY given twice");
			seen_body = true;
			rc = parse_body(&w, p_r, err_r);
		} else if (kw_is(&w, "SMTPUTF8")) {
			if (w.val != NULL)
				return fail(err_r, 501, "5.5.4",
					    "SMTPUTF8 takes no value");
			if (p_r->smtputf8)
				return fail(err_r, 501, "5.5.4",
					    "SMTPUTF8 given twice");
			p_r->smtputf8 = true;
			rc = 0;
		} else if (kw_is(&w, "AUTH")) {
			if (p_r->has_auth)
				return fail(err_r, 501, "5.5.4", "AUTH given twice");
			rc = parse_auth(&w, p_r, err_r);
		} else {
			return fail(err_r, 555, "5.5.4",
				    "Unsupported MAIL parameter");
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

int params_parse_rcpt(const char *s, size_t len, struct params_error *err_r)
{
	struct word w;
	size_t pos = 0;

	if (!next_word(s, len, &pos, &w))
		return 0;
	if (!word_syntax_ok(&w))
		return fail(err_r, 501, "5.5.4", "Syntax error in parameters");
	return fail(err_r, 555, "5.5.4", "Unsupported RCPT parameter");
}

int params_parse_bdat(const char *args, uint64_t *size_r, bool *last_r,
		      struct params_error *err_r)
{
	static const char syntax[] = "Syntax: BDAT size [LAST]";
	const char *sp = strchr(args, ' ');
	size_t len = sp != NULL ? (size_t)(sp - args) : strlen(args);

	if (sp != NULL && strcasecmp(sp + 1, "LAST") != 0)
		return fail(err_r, 501, "5.5.4", syntax);
	*last_r = sp != NULL;
	return parse_digits(args, len, syntax, size_r, err_r);
}
