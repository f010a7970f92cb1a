/* fetch/headers.c: the header block scanner of the fetcher: unfolding,
 * tolerant RFC 5322 address lists (comments, quoted strings, groups, angle
 * addresses), Received "for" clauses, Message-ID and the loop guard. */
#include "autoconf.h"

#include "fetch/headers.h"

#include "fetch/trace.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bounds that keep hostile input cheap. */
#define FH_VALUE_MAX (64 * 1024)

/* One header field: name and raw value (folded, as in the message). */
struct fh_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

static bool fh_is_wsp(char c) { return c == ' ' || c == '\t'; }

static bool fh_name_is(const struct fh_field *f, const char *name)
{
	return strlen(name) == f->name_len &&
	       strncasecmp(f->name, name, f->name_len) == 0;
}

/* Address headers that may name several recipients and group together. */
static bool fh_is_address_header(const char *name)
{
	static const char *const names[] = { "To", "Cc", "Bcc", "Resent-To",
					     "Resent-Cc", "Resent-Bcc" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

/* Next header field of the block starting at *pos; false at the end of the
 * block (an empty line, or the end of text). Lines that are neither a
 * field nor a continuation (an mbox "From " line) are skipped. */
static bool fh_next_field(const char *text, size_t len, size_t *pos,
			  struct fh_field *f)
{
	while (*pos < len) {
		size_t start = *pos, eol, colon;
		const char *nl = memchr(text + start, '\n', len - start);

		eol = nl != NULL ? (size_t)(nl - text) : len;
		if (eol == start || (eol == start + 1 && text[start] == '\r'))
			return false; /* the empty line ends the header */
		*pos = eol < len ? eol + 1 : len;
		if (fh_is_wsp(text[start]))
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
		while (*pos < len && fh_is_wsp(text[*pos])) {
			nl = memchr(text + *pos, '\n', len - *pos);
			*pos = nl != NULL ? (size_t)(nl - text) + 1 : len;
		}
		f->value_len = (size_t)(text + *pos - f->value);
		return true;
	}
	return false;
}

/* Unfold a value into buf (CR and LF dropped, NUL and other controls made
 * blanks), at most FH_VALUE_MAX bytes; returns the length. */
static size_t fh_unfold(const char *v, size_t len, char *buf)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o < FH_VALUE_MAX; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\r' || c == '\n')
			continue;
		buf[o++] = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : (char)c;
	}
	buf[o] = '\0';
	return o;
}

/* Copy s[0..len) into out without comments, keeping quoted strings whole;
 * returns the length. out has room for len + 1. */
static size_t fh_strip_comments(const char *s, size_t len, char *out)
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

/* Is key already among keys[0..n)? */
static bool fh_have(char (*keys)[ADDR_KEY_SIZE], size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

/* Turn one addr-spec candidate into a key and add it; true when added. */
static bool fh_add_addr(const char *s, size_t len, const char *domain,
			char (*keys)[ADDR_KEY_SIZE], size_t *n, size_t max,
			bool dedup)
{
	struct addr_mailbox mb;
	char key[ADDR_KEY_SIZE];

	while (len > 0 && fh_is_wsp(*s)) {
		s++;
		len--;
	}
	while (len > 0 && fh_is_wsp(s[len - 1]))
		len--;
	/* An encoded word (RFC 2047) is display text, never an address. */
	if (len >= 4 && s[0] == '=' && s[1] == '?' && s[len - 2] == '?' &&
	    s[len - 1] == '=')
		return false;
	if (len == 0 || *n >= max ||
	    addr_parse_mailbox(s, len, ADDR_OPT_UTF8, &mb, NULL) < 0 ||
	    (mb.flags & ADDR_MB_LITERAL) ||
	    addr_key(&mb, key, sizeof(key), NULL) < 0)
		return false;
	if (domain != NULL && strcasecmp(strrchr(key, '@') + 1, domain) != 0)
		return false;
	if (dedup && fh_have(keys, *n, key))
		return false;
	memcpy(keys[(*n)++], key, sizeof(key));
	return true;
}

/* One element of an address list (between separators), comments removed:
 * "Name <a@b>", "<@route:a@b>", "a@b", or junk. */
static size_t fh_element(const char *s, size_t len, const char *domain,
			 char (*keys)[ADDR_KEY_SIZE], size_t *n, size_t max,
			 bool dedup)
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
		return fh_add_addr(a, (size_t)(gt - a), domain, keys, n, max,
				   dedup);
	}
	if (lt != NULL)
		return 0;
	return fh_add_addr(s, len, domain, keys, n, max, dedup);
}

/* Split an unfolded, comment-free address list at ',' ';' and the ':' that
 * opens a group, outside quotes and angle brackets. */
static size_t fh_list(const char *s, size_t len, const char *domain,
		      char (*keys)[ADDR_KEY_SIZE], size_t *n, size_t max,
		      bool dedup)
{
	size_t added = 0, start = 0;
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
			added += fh_element(s + start, i - start, domain, keys, n,
					    max, dedup);
			start = i + 1;
		} else if (!angle && c == ':') {
			/* A group name ends here: what precedes is display
			 * text. */
			start = i + 1;
		}
	}
	if (start < len)
		added += fh_element(s + start, len - start, domain, keys, n,
				    max, dedup);
	return added;
}

size_t fh_address_list(const char *value, size_t len, const char *domain,
		       char (*keys)[ADDR_KEY_SIZE], size_t *n, size_t max)
{
	char *clean = malloc(len + 1);
	size_t added;

	if (clean == NULL)
		return 0;
	len = fh_strip_comments(value, len, clean);
	added = fh_list(clean, len, domain, keys, n, max, true);
	free(clean);
	return added;
}

/* The address of a Received header's "for" clause (RFC 5321 4.4: the
 * clause sits before the ';' that introduces the date). */
static size_t fh_received_for(const char *v, size_t len, const char *domain,
			      char (*keys)[ADDR_KEY_SIZE], size_t *n,
			      size_t max)
{
	char *clean = malloc(len + 1);
	const char *semi, *p, *end;
	size_t added = 0;

	if (clean == NULL)
		return 0;
	len = fh_strip_comments(v, len, clean);
	semi = memrchr(clean, ';', len);
	end = semi != NULL ? semi : clean + len;
	for (p = clean; p + 3 < end; p++) {
		const char *a, *stop;

		if (strncasecmp(p, "for", 3) != 0 ||
		    (p > clean && !fh_is_wsp(p[-1])) || !fh_is_wsp(p[3]))
			continue;
		a = p + 3;
		while (a < end && fh_is_wsp(*a))
			a++;
		if (a < end && *a == '<') {
			stop = memchr(a, '>', (size_t)(end - a));
			if (stop == NULL)
				break;
			added += fh_element(a, (size_t)(stop - a + 1), domain,
					    keys, n, max, true);
		} else {
			for (stop = a; stop < end && !fh_is_wsp(*stop); stop++)
				;
			added += fh_add_addr(a, (size_t)(stop - a), domain, keys,
					     n, max, true);
		}
		break;
	}
	free(clean);
	return added;
}

/* The first Message-ID value: "<...>" when present, else the bare token. */
static char *fh_message_id(const char *v, size_t len)
{
	const char *lt = memchr(v, '<', len), *gt, *s;
	size_t n;

	if (lt != NULL && (gt = memchr(lt, '>', len - (size_t)(lt - v))) != NULL) {
		s = lt;
		n = (size_t)(gt - lt) + 1;
	} else {
		s = v;
		n = len;
		while (n > 0 && fh_is_wsp(*s)) {
			s++;
			n--;
		}
		while (n > 0 && fh_is_wsp(s[n - 1]))
			n--;
	}
	if (n == 0 || n > FH_MSGID_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return NULL;
	return strndup(s, n);
}

/* Scan every field of the block and run the recipient search for one
 * unit of the configured list: headers[first..last]. */
static size_t fh_unit(const char *text, size_t len,
		      const struct fh_options *o, size_t first, size_t last,
		      char *buf, struct fh_result *r)
{
	struct fh_field f;
	size_t pos = 0, added = 0, received_seen = 0;

	while (fh_next_field(text, len, &pos, &f)) {
		size_t i, vlen;

		for (i = first; i <= last; i++)
			if (fh_name_is(&f, o->headers[i]))
				break;
		if (fh_name_is(&f, "Received") && received_seen++ <
						       o->skip_received)
			continue;
		if (i > last)
			continue;
		vlen = fh_unfold(f.value, f.value_len, buf);
		if (strcasecmp(o->headers[i], "Received") == 0)
			added += fh_received_for(buf, vlen, o->domain, r->rcpts,
						 &r->n_rcpts, FH_MAX_ADDRS);
		else
			added += fh_address_list(buf, vlen, o->domain, r->rcpts,
						 &r->n_rcpts, FH_MAX_ADDRS);
	}
	return added;
}

int fh_parse(const char *text, size_t len, const struct fh_options *o,
	     struct fh_result *r)
{
	struct fh_field f;
	size_t pos = 0;
	char *buf = malloc(FH_VALUE_MAX + 1);

	memset(r, 0, sizeof(*r));
	r->rcpts = calloc(FH_MAX_ADDRS, sizeof(*r->rcpts));
	r->delivered_to = calloc(FH_MAX_ADDRS, sizeof(*r->delivered_to));
	if (buf == NULL || r->rcpts == NULL || r->delivered_to == NULL) {
		free(buf);
		fh_result_free(r);
		return -1;
	}
	while (fh_next_field(text, len, &pos, &f)) {
		size_t vlen = fh_unfold(f.value, f.value_len, buf);

		if (fh_name_is(&f, "Message-ID") && r->message_id == NULL) {
			r->message_id = fh_message_id(buf, vlen);
		} else if (fh_name_is(&f, FH_FETCHED_HEADER) &&
			   o->account != NULL) {
			char *v = buf;

			while (fh_is_wsp(*v))
				v++;
			while (vlen > 0 && fh_is_wsp(buf[vlen - 1]))
				buf[--vlen] = '\0';
			if (strcmp(v, o->account) == 0)
				r->fetched_mark = true;
		} else if (fh_name_is(&f, "Received") && o->account != NULL &&
			   o->hostname != NULL) {
			if (ftrace_is_ours(buf, vlen, o->hostname, o->account))
				r->fetched_mark = true;
		} else if (fh_name_is(&f, "Delivered-To")) {
			char *clean = malloc(vlen + 1);

			if (clean != NULL) {
				size_t cl = fh_strip_comments(buf, vlen, clean);

				fh_list(clean, cl, NULL, r->delivered_to,
					&r->n_delivered_to, FH_MAX_ADDRS, false);
				free(clean);
			}
		}
	}
	for (size_t i = 0; o->domain != NULL && i < o->n_headers; i++) {
		size_t last = i;

		if (fh_is_address_header(o->headers[i]))
			while (last + 1 < o->n_headers &&
			       fh_is_address_header(o->headers[last + 1]))
				last++;
		if (fh_unit(text, len, o, i, last, buf, r) > 0) {
			r->rcpt_header = o->headers[i];
			break;
		}
		i = last;
	}
	free(buf);
	return 0;
}

size_t fh_header_end(const char *text, size_t len)
{
	/* A line break followed by an empty line, or an empty first line. */
	if (len >= 1 && text[0] == '\n')
		return 1;
	if (len >= 2 && text[0] == '\r' && text[1] == '\n')
		return 2;
	for (size_t i = 0; i + 1 < len; i++) {
		const char *nl = memchr(text + i, '\n', len - i - 1);

		if (nl == NULL)
			break;
		i = (size_t)(nl - text);
		if (text[i + 1] == '\n')
			return i + 2;
		if (text[i + 1] == '\r' && i + 2 < len && text[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

void fh_result_free(struct fh_result *r)
{
	free(r->rcpts);
	free(r->delivered_to);
	free(r->message_id);
	memset(r, 0, sizeof(*r));
}

const char *fh_loop_reason(const struct fh_result *r,
			   const char *multipop_key)
{
	if (r->fetched_mark)
		return "it was fetched by this account before";
	for (size_t i = 0; i < r->n_delivered_to; i++) {
		if (multipop_key != NULL &&
		    strcmp(r->delivered_to[i], multipop_key) == 0)
			return "its Delivered-To names the local mailbox";
		if (multipop_key == NULL &&
		    fh_have(r->delivered_to + i + 1, r->n_delivered_to - i - 1,
			    r->delivered_to[i]))
			return "its Delivered-To names the same address twice";
	}
	return NULL;
}
