/* smtpd/params.c: MAIL/RCPT ESMTP parameter parsing, DSN's included. */
#include "autoconf.h"

#include "smtpd/params.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/mail/xtext.h"
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
	    xtext_decode(w->val, w->vallen, p->auth, sizeof(p->auth)) < 0)
		return fail(err_r, 501, "5.5.4", "Syntax error in AUTH parameter");
	p->has_auth = true;
	return 0;
}

/* RET=FULL|HDRS (RFC 3461 §4.3). */
static int parse_ret(const struct word *w, struct params_mail *p,
		     struct params_error *err_r)
{
	if (val_is(w, "FULL"))
		p->ret = DSN_RET_FULL;
	else if (val_is(w, "HDRS"))
		p->ret = DSN_RET_HDRS;
	else
		return fail(err_r, 501, "5.5.4", "RET must be FULL or HDRS");
	return 0;
}

/* ENVID=xtext (RFC 3461 §4.4): at most 100 characters, printable ASCII
 * once decoded; kept as sent, for the next hop and the DSN. */
static int parse_envid(const struct word *w, struct params_mail *p,
		       struct params_error *err_r)
{
	char dec[DSN_ENVID_MAX + 1];

	if (w->val == NULL || w->vallen > DSN_ENVID_MAX ||
	    xtext_decode_printable(w->val, w->vallen, dec, sizeof(dec)) < 0)
		return fail(err_r, 501, "5.5.4", "Syntax error in ENVID parameter");
	memcpy(p->envid, w->val, w->vallen);
	p->envid[w->vallen] = '\0';
	return 0;
}

/* One MAIL parameter; *seen_body tracks BODY, the others their field. */
static int mail_word(const struct word *w, uint64_t max_size,
		     struct params_mail *p, bool *seen_body,
		     struct params_error *err_r)
{
	if (kw_is(w, "SIZE")) {
		if (p->has_size)
			return fail(err_r, 501, "5.5.4", "SIZE given twice");
		return parse_size(w, max_size, p, err_r);
	}
	if (kw_is(w, "BODY")) {
		if (*seen_body)
			return fail(err_r, 501, "5.5.4", "BODY given twice");
		*seen_body = true;
		return parse_body(w, p, err_r);
	}
	if (kw_is(w, "SMTPUTF8")) {
		if (w->val != NULL)
			return fail(err_r, 501, "5.5.4", "SMTPUTF8 takes no value");
		if (p->smtputf8)
			return fail(err_r, 501, "5.5.4", "SMTPUTF8 given twice");
		p->smtputf8 = true;
		return 0;
	}
	if (kw_is(w, "AUTH")) {
		if (p->has_auth)
			return fail(err_r, 501, "5.5.4", "AUTH given twice");
		return parse_auth(w, p, err_r);
	}
	if (kw_is(w, "RET")) {
		if (p->ret != DSN_RET_NONE)
			return fail(err_r, 501, "5.5.4", "RET given twice");
		return parse_ret(w, p, err_r);
	}
	if (kw_is(w, "ENVID")) {
		if (p->envid[0] != '\0')
			return fail(err_r, 501, "5.5.4", "ENVID given twice");
		return parse_envid(w, p, err_r);
	}
	return fail(err_r, 555, "5.5.4", "Unsupported MAIL parameter");
}

int params_parse_mail(const char *s, size_t len, uint64_t max_size,
		      struct params_mail *p_r, struct params_error *err_r)
{
	bool seen_body = false;
	struct word w;
	size_t pos = 0;

	memset(p_r, 0, sizeof(*p_r));
	while (next_word(s, len, &pos, &w)) {
		if (!word_syntax_ok(&w))
			return fail(err_r, 501, "5.5.4", "Syntax error in parameters");
		if (mail_word(&w, max_size, p_r, &seen_body, err_r) < 0)
			return -1;
	}
	return 0;
}

/* NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY, each once
 * (RFC 3461 §4.1). */
static int parse_notify(const struct word *w, struct params_rcpt *p,
			struct params_error *err_r)
{
	bool combined;

	if (w->val == NULL ||
	    dsn_notify_parse(w->val, w->vallen, true, &p->notify, &combined) < 0)
		return fail(err_r, 501, "5.5.4",
			    w->val != NULL && combined
				    ? "NOTIFY=NEVER cannot be combined"
				    : "Syntax error in NOTIFY parameter");
	return 0;
}

/* atext (RFC 5322 §3.2.3), the characters of an atom. */
static bool is_atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* ORCPT=addr-type;xtext (RFC 3461 §4.2): the type an atom, the address
 * xtext, printable once decoded, at most 500 characters in all; kept as
 * sent. */
static int parse_orcpt(const struct word *w, struct params_rcpt *p,
		       struct params_error *err_r)
{
	const char *semi = w->val != NULL ? memchr(w->val, ';', w->vallen)
					  : NULL;
	char dec[DSN_ORCPT_MAX + 1];
	size_t tl = semi != NULL ? (size_t)(semi - w->val) : 0;

	if (semi == NULL || tl == 0 || w->vallen > DSN_ORCPT_MAX)
		return fail(err_r, 501, "5.5.4", "Syntax error in ORCPT parameter");
	for (size_t i = 0; i < tl; i++)
		if (!is_atext(w->val[i]))
			return fail(err_r, 501, "5.5.4",
				    "Syntax error in ORCPT address type");
	if (xtext_decode_printable(semi + 1, w->vallen - tl - 1, dec,
				   sizeof(dec)) <= 0)
		return fail(err_r, 501, "5.5.4", "Syntax error in ORCPT address");
	memcpy(p->orcpt, w->val, w->vallen);
	p->orcpt[w->vallen] = '\0';
	return 0;
}

int params_parse_rcpt(const char *s, size_t len, struct params_rcpt *p_r,
		      struct params_error *err_r)
{
	struct params_rcpt mine;
	struct word w;
	size_t pos = 0;

	if (p_r == NULL)
		p_r = &mine;
	memset(p_r, 0, sizeof(*p_r));
	while (next_word(s, len, &pos, &w)) {
		int rc;

		if (!word_syntax_ok(&w))
			return fail(err_r, 501, "5.5.4", "Syntax error in parameters");
		if (kw_is(&w, "NOTIFY")) {
			if (p_r->notify != 0)
				return fail(err_r, 501, "5.5.4", "NOTIFY given twice");
			rc = parse_notify(&w, p_r, err_r);
		} else if (kw_is(&w, "ORCPT")) {
			if (p_r->orcpt[0] != '\0')
				return fail(err_r, 501, "5.5.4", "ORCPT given twice");
			rc = parse_orcpt(&w, p_r, err_r);
		} else {
			return fail(err_r, 555, "5.5.4",
				    "Unsupported RCPT parameter");
		}
		if (rc < 0)
			return -1;
	}
	return 0;
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
