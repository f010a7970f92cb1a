/* common/mail/address.c: RFC 5321 / RFC 6531 mailbox and path parser, mailbox keys
 * and the path-component safety check. Pure: no I/O, no globals. */
#include "autoconf.h"

#include "common/mail/address.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* One parse: the input, the options, where the first error goes. */
struct scan {
	const unsigned char *s;
	size_t len;
	size_t pos;
	unsigned opts;
	struct addr_error *err;
};

static int fail(struct scan *sc, enum addr_part part, const char *why);
static size_t utf8_len(const unsigned char *p, size_t avail);
static bool too_long(struct scan *sc, size_t start, size_t n);
static bool is_term(const char *terminators, unsigned char c);
static int bad_char(struct scan *sc, enum addr_part part, const char *what);
static int scan_local(struct scan *sc, struct addr_mailbox *mb);
static int scan_domain(struct scan *sc, const char *terminators, char *out,
		       unsigned *flags);
static int scan_mailbox(struct scan *sc, const char *terminators,
			struct addr_mailbox *mb);

static int fail(struct scan *sc, enum addr_part part, const char *why)
{
	if (sc->err != NULL) {
		sc->err->part = part;
		sc->err->why = why;
	}
	return -1;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* atext of RFC 5322 §3.2.3, as RFC 5321 §4.1.2 uses it. */
static bool is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629 §4: no overlongs, no
 * surrogates, nothing above U+10FFFF) at p, or 0. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* Non-ASCII at sc->pos: the length of an acceptable UTF-8 character, or 0
 * after recording why it is not acceptable. */
static size_t take_utf8(struct scan *sc)
{
	size_t n;

	if (!(sc->opts & ADDR_OPT_UTF8)) {
		fail(sc, ADDR_ERR_UTF8, "non-ASCII address without SMTPUTF8");
		return 0;
	}
	n = utf8_len(sc->s + sc->pos, sc->len - sc->pos);
	if (n == 0)
		fail(sc, ADDR_ERR_UTF8, "invalid UTF-8 in address");
	return n;
}

/* Would n more octets make the local part (begun at start) too long? The
 * check keeps mb->local from overflowing: its unquoted form is never longer
 * than what was written. */
static bool too_long(struct scan *sc, size_t start, size_t n)
{
	if (sc->pos + n - start <= ADDR_LOCAL_MAX)
		return false;
	fail(sc, ADDR_ERR_LOCAL, "local part longer than 64 octets");
	return true;
}

/* Is c (from the input) one of the terminators? A NUL byte never is. */
static bool is_term(const char *terminators, unsigned char c)
{
	return c != '\0' && strchr(terminators, c) != NULL;
}

/* The character at sc->pos is not allowed here: say why as precisely as
 * the character allows. */
static int bad_char(struct scan *sc, enum addr_part part, const char *what)
{
	unsigned char c;

	if (sc->pos >= sc->len)
		return fail(sc, part, what);
	c = sc->s[sc->pos];
	if (c == '\0')
		return fail(sc, part, "NUL character in address");
	if (c == '\r' || c == '\n')
		return fail(sc, part, "CR or LF in address");
	if (is_ctl(c))
		return fail(sc, part, "control character in address");
	return fail(sc, part, what);
}

/* Copy n octets at sc->pos to the local part being built (*out octets
 * so far, begun at start in the input), unless that makes it too long. */
static int copy_local(struct scan *sc, struct addr_mailbox *mb, size_t start,
		      size_t *out, size_t n)
{
	if (too_long(sc, start, n))
		return -1;
	memcpy(mb->local + *out, sc->s + sc->pos, n);
	*out += n;
	sc->pos += n;
	return 0;
}

/* Quoted-string (RFC 5321 §4.1.2), stored without the quotes and with the
 * quoted pairs undone. */
static int scan_quoted_local(struct scan *sc, struct addr_mailbox *mb)
{
	size_t start = sc->pos, out = 0;
	unsigned char c;

	mb->flags |= ADDR_MB_QUOTED;
	sc->pos++;
	while (sc->pos < sc->len && (c = sc->s[sc->pos]) != '"') {
		size_t n = 1;

		if (c == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (sc->pos + 1 >= sc->len || sc->s[sc->pos + 1] < 32 ||
			    sc->s[sc->pos + 1] > 126) {
				sc->pos++;
				return bad_char(sc, ADDR_ERR_LOCAL,
						"invalid quoted pair in local part");
			}
			if (too_long(sc, start, 2))
				return -1;
			mb->local[out++] = (char)sc->s[sc->pos + 1];
			sc->pos += 2;
			continue;
		}
		if (c >= 0x80) {
			n = take_utf8(sc);
			if (n == 0)
				return -1;
			mb->flags |= ADDR_MB_UTF8;
		} else if (c < 32 || c > 126) {
			return bad_char(sc, ADDR_ERR_LOCAL,
					"invalid character in local part");
		}
		if (copy_local(sc, mb, start, &out, n) < 0)
			return -1;
	}
	if (sc->pos >= sc->len)
		return fail(sc, ADDR_ERR_LOCAL, "unterminated quoted local part");
	sc->pos++;
	if (sc->pos - start > ADDR_LOCAL_MAX)
		return fail(sc, ADDR_ERR_LOCAL, "local part longer than 64 octets");
	mb->local[out] = '\0';
	return 0;
}

/* One Atom of a Dot-string: atext and UTF-8 characters. */
static int scan_atom(struct scan *sc, struct addr_mailbox *mb, size_t start,
		     size_t *out)
{
	while (sc->pos < sc->len) {
		unsigned char c = sc->s[sc->pos];
		size_t n = 1;

		if (c >= 0x80) {
			n = take_utf8(sc);
			if (n == 0)
				return -1;
			mb->flags |= ADDR_MB_UTF8;
		} else if (!is_atext(c)) {
			break;
		}
		if (copy_local(sc, mb, start, out, n) < 0)
			return -1;
	}
	return 0;
}

/* Why an empty atom at sc->pos (c, or 0 at the end) of the Dot-string
 * begun at start is wrong. */
static int empty_atom(struct scan *sc, size_t start, unsigned char c)
{
	bool end = c == '@' || c == '>' || sc->pos >= sc->len;

	if (sc->pos == start && c == '.')
		return fail(sc, ADDR_ERR_LOCAL, "local part starts with a dot");
	if (sc->pos == start && end)
		return fail(sc, ADDR_ERR_LOCAL, "empty local part");
	if (c == '.')
		return fail(sc, ADDR_ERR_LOCAL,
			    "two dots in a row in local part");
	if (sc->pos > start && end)
		return fail(sc, ADDR_ERR_LOCAL, "local part ends with a dot");
	if (c == ' ')
		return fail(sc, ADDR_ERR_LOCAL, "unquoted space in local part");
	return bad_char(sc, ADDR_ERR_LOCAL, "invalid character in local part");
}

/* Dot-string = Atom *("." Atom) */
static int scan_dot_local(struct scan *sc, struct addr_mailbox *mb)
{
	size_t start = sc->pos, out = 0;

	for (;;) {
		size_t atom = sc->pos;
		unsigned char c;

		if (scan_atom(sc, mb, start, &out) < 0)
			return -1;
		c = sc->pos < sc->len ? sc->s[sc->pos] : 0;
		if (sc->pos == atom)
			return empty_atom(sc, start, c);
		if (c != '.')
			break;
		if (copy_local(sc, mb, start, &out, 1) < 0)
			return -1;
	}
	mb->local[out] = '\0';
	return 0;
}

/* Local-part = Dot-string / Quoted-string (RFC 5321 §4.1.2). Stops at the
 * "@", which it does not consume. */
static int scan_local(struct scan *sc, struct addr_mailbox *mb)
{
	if (sc->pos < sc->len && sc->s[sc->pos] == '"')
		return scan_quoted_local(sc, mb);
	return scan_dot_local(sc, mb);
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 ) "]" (RFC 5321 §4.1.3). */
static int scan_address_literal(struct scan *sc, unsigned *flags)
{
	char lit[ADDR_DOMAIN_MAX + 1];
	unsigned char addr[16];
	size_t n = 0;

	sc->pos++;
	while (sc->pos < sc->len && sc->s[sc->pos] != ']') {
		unsigned char c = sc->s[sc->pos];

		if (c <= 32 || c >= 127 || c == '[' || c == '\\' ||
		    n >= sizeof(lit) - 1)
			return bad_char(sc, ADDR_ERR_DOMAIN,
					"invalid address literal");
		lit[n++] = (char)c;
		sc->pos++;
	}
	if (sc->pos >= sc->len)
		return fail(sc, ADDR_ERR_DOMAIN, "unterminated address literal");
	sc->pos++;
	lit[n] = '\0';
	if (strncasecmp(lit, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, lit + 5, addr) != 1)
			return fail(sc, ADDR_ERR_DOMAIN,
				    "invalid IPv6 address literal");
	} else if (inet_pton(AF_INET, lit, addr) != 1) {
		return fail(sc, ADDR_ERR_DOMAIN, "invalid address literal");
	}
	*flags |= ADDR_MB_LITERAL;
	return 0;
}

/* One label: letters, digits, hyphens and UTF-8, at most 63 octets. */
static int scan_label(struct scan *sc, unsigned *flags)
{
	size_t label = sc->pos;

	while (sc->pos < sc->len) {
		unsigned char c = sc->s[sc->pos];

		if (is_alpha(c) || is_digit(c) || c == '-') {
			sc->pos++;
		} else if (c >= 0x80) {
			size_t n = take_utf8(sc);

			if (n == 0)
				return -1;
			sc->pos += n;
			*flags |= ADDR_MB_UTF8;
		} else {
			break;
		}
		if (sc->pos - label > 63)
			return fail(sc, ADDR_ERR_DOMAIN,
				    "domain label longer than 63 octets");
	}
	return 0;
}

/* Why an empty label at sc->pos (c, or 0 at the end) of the domain begun
 * at start is wrong. */
static int empty_label(struct scan *sc, size_t start, const char *terminators,
		       unsigned char c)
{
	bool end = sc->pos >= sc->len || is_term(terminators, c);

	if (c == '_')
		return fail(sc, ADDR_ERR_DOMAIN, "underscore in domain");
	if (sc->pos == start && c != '.' && end)
		return fail(sc, ADDR_ERR_DOMAIN, "missing domain");
	if (sc->pos == start && c == '.')
		return fail(sc, ADDR_ERR_DOMAIN, "domain starts with a dot");
	if (c == '.')
		return fail(sc, ADDR_ERR_DOMAIN, "two dots in a row in domain");
	if (end)
		return fail(sc, ADDR_ERR_DOMAIN, "domain ends with a dot");
	return bad_char(sc, ADDR_ERR_DOMAIN, "invalid character in domain");
}

/* sub-domain *("." sub-domain) */
static int scan_labels(struct scan *sc, const char *terminators,
		       unsigned *flags)
{
	size_t start = sc->pos;

	for (;;) {
		size_t label = sc->pos;
		unsigned char c;

		if (scan_label(sc, flags) < 0)
			return -1;
		c = sc->pos < sc->len ? sc->s[sc->pos] : 0;
		if (sc->pos == label)
			return empty_label(sc, start, terminators, c);
		if (sc->s[label] == '-' || sc->s[sc->pos - 1] == '-')
			return fail(sc, ADDR_ERR_DOMAIN,
				    "domain label starts or ends with a hyphen");
		if (c != '.')
			return 0;
		sc->pos++;
	}
}

/* What follows a domain must be the end of input or a terminator. */
static int domain_end(struct scan *sc, const char *terminators)
{
	unsigned char c;

	if (sc->pos >= sc->len)
		return 0;
	c = sc->s[sc->pos];
	if (is_term(terminators, c))
		return 0;
	if (c == '_')
		return fail(sc, ADDR_ERR_DOMAIN, "underscore in domain");
	if (c == '@')
		return fail(sc, ADDR_ERR_DOMAIN, "more than one @ in address");
	return bad_char(sc, ADDR_ERR_DOMAIN, "invalid character in domain");
}

/* Domain = sub-domain *("." sub-domain) / address-literal (RFC 5321
 * §4.1.2, §4.1.3), ending at the end of input or at a character of
 * terminators (not consumed). Writes it as written into out. */
static int scan_domain(struct scan *sc, const char *terminators, char *out,
		       unsigned *flags)
{
	size_t start = sc->pos;
	int rc;

	if (sc->pos < sc->len && sc->s[sc->pos] == '[')
		rc = scan_address_literal(sc, flags);
	else
		rc = scan_labels(sc, terminators, flags);
	if (rc < 0)
		return -1;
	if (sc->pos - start > ADDR_DOMAIN_MAX)
		return fail(sc, ADDR_ERR_DOMAIN, "domain longer than 255 octets");
	if (domain_end(sc, terminators) < 0)
		return -1;
	if (out != NULL) {
		memcpy(out, sc->s + start, sc->pos - start);
		out[sc->pos - start] = '\0';
	}
	return 0;
}

static int scan_mailbox(struct scan *sc, const char *terminators,
			struct addr_mailbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	if (scan_local(sc, mb) < 0)
		return -1;
	if (sc->pos >= sc->len || sc->s[sc->pos] != '@') {
		if (sc->pos >= sc->len || is_term(terminators, sc->s[sc->pos]))
			return fail(sc, ADDR_ERR_LOCAL, "missing @domain");
		if (sc->s[sc->pos] == ' ')
			return fail(sc, ADDR_ERR_LOCAL,
				    "unquoted space in local part");
		return bad_char(sc, ADDR_ERR_LOCAL,
				"invalid character in local part");
	}
	sc->pos++;
	if (scan_domain(sc, terminators, mb->domain, &mb->flags) < 0)
		return -1;
	if (strcasecmp(mb->local, "postmaster") == 0)
		mb->flags |= ADDR_MB_POSTMASTER;
	return 0;
}

int addr_parse_mailbox(const char *s, size_t len, unsigned opts,
		       struct addr_mailbox *mb_r, struct addr_error *err_r)
{
	struct scan sc = { (const unsigned char *)s, len, 0, opts, err_r };

	return scan_mailbox(&sc, "", mb_r);
}

int addr_parse_path(const char *s, size_t len, unsigned opts,
		    struct addr_path *path_r, struct addr_error *err_r)
{
	struct scan sc = { (const unsigned char *)s, len, 0, opts, err_r };
	size_t open;
	unsigned route_flags = 0;

	memset(path_r, 0, sizeof(*path_r));
	while (sc.pos < len && s[sc.pos] == ' ')
		sc.pos++;
	if (sc.pos >= len || s[sc.pos] != '<')
		return fail(&sc, ADDR_ERR_PATH, "address must be enclosed in <>");
	open = sc.pos++;
	if (sc.pos < len && s[sc.pos] == '>') {
		path_r->flags |= ADDR_PATH_NULL;
	} else if ((opts & ADDR_OPT_POSTMASTER) && len - sc.pos >= 11 &&
		   strncasecmp(s + sc.pos, "postmaster>", 11) == 0) {
		/* RFC 5321 §4.1.1.3: RCPT TO:<Postmaster> without a domain. */
		path_r->flags |= ADDR_PATH_BARE_POSTMASTER;
		memcpy(path_r->mailbox.local, s + sc.pos, 10);
		path_r->mailbox.flags |= ADDR_MB_POSTMASTER;
		sc.pos += 10;
	} else {
		if (sc.pos < len && s[sc.pos] == '@') {
			/* A-d-l: checked, then ignored (§4.1.1.3, §3.6.1). */
			for (;;) {
				sc.pos++;
				if (scan_domain(&sc, ",:", NULL, &route_flags) < 0)
					return -1;
				if (sc.pos >= len)
					return fail(&sc, ADDR_ERR_PATH,
						    "unterminated source route");
				if (s[sc.pos] == ':')
					break;
				sc.pos++; /* "," */
				if (sc.pos >= len || s[sc.pos] != '@')
					return fail(&sc, ADDR_ERR_PATH,
						    "invalid source route");
			}
			sc.pos++;
			path_r->flags |= ADDR_PATH_ROUTE;
		}
		if (scan_mailbox(&sc, ">", &path_r->mailbox) < 0)
			return -1;
	}
	if (sc.pos >= len || s[sc.pos] != '>')
		return fail(&sc, ADDR_ERR_PATH, "missing > after address");
	sc.pos++;
	if (sc.pos - open > ADDR_PATH_MAX)
		return fail(&sc, ADDR_ERR_PATH, "path longer than 256 octets");
	if (sc.pos < len && s[sc.pos] != ' ')
		return bad_char(&sc, ADDR_ERR_PATH, "unexpected text after >");
	while (sc.pos < len && s[sc.pos] == ' ')
		sc.pos++;
	path_r->rest = s + sc.pos;
	path_r->rest_len = len - sc.pos;
	return 0;
}

bool addr_component_safe_n(const char *s, size_t len, const char **why_r)
{
	const unsigned char *p = (const unsigned char *)s;
	const char *why = NULL;

	if (len == 0)
		why = "empty name";
	else if (len > 255)
		why = "name longer than 255 octets";
	else if (p[0] == '.')
		why = "name starts with a dot";
	for (size_t i = 0; why == NULL && i < len; i++) {
		if (p[i] == '/' || p[i] == '\\') {
			why = "slash or backslash in name";
		} else if (p[i] == '\0') {
			why = "NUL character in name";
		} else if (is_ctl(p[i])) {
			why = "control character in name";
		} else if (p[i] >= 0x80) {
			size_t n = utf8_len(p + i, len - i);

			if (n == 0)
				why = "invalid UTF-8 in name";
			else
				i += n - 1;
		}
	}
	if (why != NULL && why_r != NULL)
		*why_r = why;
	return why == NULL;
}

bool addr_component_safe(const char *s, const char **why_r)
{
	return addr_component_safe_n(s, strlen(s), why_r);
}

static size_t lower_copy(char *dst, const char *src)
{
	size_t n = 0;

	for (; src[n] != '\0'; n++) {
		char c = src[n];

		dst[n] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	return n;
}

int addr_key(const struct addr_mailbox *mb, char *buf, size_t size,
	     const char **why_r)
{
	size_t l = strlen(mb->local), d = strlen(mb->domain);

	if (!addr_component_safe_n(mb->local, l, why_r) ||
	    !addr_component_safe_n(mb->domain, d, why_r))
		return -1;
	if (l + 1 + d + 1 > size) {
		*why_r = "address too long";
		return -1;
	}
	lower_copy(buf, mb->local);
	buf[l] = '@';
	lower_copy(buf + l + 1, mb->domain);
	buf[l + 1 + d] = '\0';
	return 0;
}

size_t addr_mailbox_text(const struct addr_mailbox *mb, char *buf,
			 size_t size)
{
	bool quoted = (mb->flags & ADDR_MB_QUOTED) != 0;
	size_t need = strlen(mb->domain) + 2 + (quoted ? 2 : 0), o = 0;

	for (const char *p = mb->local; *p != '\0'; p++)
		need += quoted && (*p == '"' || *p == '\\') ? 2 : 1;
	if (need > size)
		return 0;
	if (quoted)
		buf[o++] = '"';
	for (const char *p = mb->local; *p != '\0'; p++) {
		if (quoted && (*p == '"' || *p == '\\'))
			buf[o++] = '\\';
		buf[o++] = *p;
	}
	if (quoted)
		buf[o++] = '"';
	buf[o++] = '@';
	memcpy(buf + o, mb->domain, strlen(mb->domain) + 1);
	return need - 1;
}

int addr_key_from_string(const char *name, char *buf, size_t size,
			 const char **why_r)
{
	struct addr_mailbox mb;
	struct addr_error err;

	if (addr_parse_mailbox(name, strlen(name), ADDR_OPT_UTF8, &mb,
			       &err) < 0) {
		*why_r = err.why;
		return -1;
	}
	return addr_key(&mb, buf, size, why_r);
}

size_t addr_subaddress(const char *local, const char *delims,
		       const char **tag_r)
{
	size_t len = strlen(local), base;

	if (tag_r != NULL)
		*tag_r = NULL;
	if (delims == NULL || *delims == '\0')
		return len;
	base = strcspn(local, delims);
	if (base == 0 || base == len)
		return len;
	if (tag_r != NULL)
		*tag_r = local + base + 1;
	return base;
}
