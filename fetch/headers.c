/* fetch/headers.c: the header block scanner of the fetcher: the DomainPOP
 * recipients (fields and address lists read by common/mail/header.h),
 * Received "for" clauses, Message-ID and the loop guard. */
#include "autoconf.h"

#include "fetch/headers.h"

#include "common/mail/header.h"
#include "fetch/trace.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool fh_is_wsp(char c) { return c == ' ' || c == '\t'; }

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

/* Is key already among keys[0..n)? */
static bool fh_have(char (*keys)[ADDR_KEY_SIZE], size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

/* Where the mailboxes of a list go: keys within domain (NULL: any),
 * each once when dedup. */
struct fh_keys {
	const char *domain;
	char (*keys)[ADDR_KEY_SIZE];
	size_t *n, max;
	bool dedup;
};

/* hdr_address_list's callback: the mailbox as a key, added when new. */
static bool fh_add_key(void *arg, const struct addr_mailbox *mb)
{
	struct fh_keys *k = arg;
	char key[ADDR_KEY_SIZE];

	if (*k->n >= k->max || (mb->flags & ADDR_MB_LITERAL) ||
	    addr_key(mb, key, sizeof(key), NULL) < 0)
		return false;
	if (k->domain != NULL &&
	    strcasecmp(strrchr(key, '@') + 1, k->domain) != 0)
		return false;
	if (k->dedup && fh_have(k->keys, *k->n, key))
		return false;
	memcpy(k->keys[(*k->n)++], key, sizeof(key));
	return true;
}

size_t fh_address_list(const char *value, size_t len, const char *domain,
		       char (*keys)[ADDR_KEY_SIZE], size_t *n, size_t max)
{
	struct fh_keys k = { domain, keys, n, max, true };

	return hdr_address_list(value, len, NULL, fh_add_key, &k);
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
	len = hdr_strip_comments(v, len, clean);
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
			added += fh_address_list(a, (size_t)(stop - a + 1),
						 domain, keys, n, max);
		} else {
			struct fh_keys k = { domain, keys, n, max, true };
			struct addr_mailbox mb;

			for (stop = a; stop < end && !fh_is_wsp(*stop); stop++)
				;
			if (addr_parse_mailbox(a, (size_t)(stop - a),
					       ADDR_OPT_UTF8, &mb, NULL) == 0 &&
			    fh_add_key(&k, &mb))
				added++;
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
	struct hdr_field f;
	size_t pos = 0, added = 0, received_seen = 0;

	while (hdr_next_field(text, len, &pos, &f)) {
		size_t i, vlen;

		for (i = first; i <= last; i++)
			if (hdr_name_is(&f, o->headers[i]))
				break;
		if (hdr_name_is(&f, "Received") && received_seen++ <
						       o->skip_received)
			continue;
		if (i > last)
			continue;
		vlen = hdr_unfold(f.value, f.value_len, buf);
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
	struct hdr_field f;
	size_t pos = 0;
	char *buf = malloc(HDR_VALUE_MAX + 1);

	memset(r, 0, sizeof(*r));
	r->rcpts = calloc(FH_MAX_ADDRS, sizeof(*r->rcpts));
	r->delivered_to = calloc(FH_MAX_ADDRS, sizeof(*r->delivered_to));
	if (buf == NULL || r->rcpts == NULL || r->delivered_to == NULL) {
		free(buf);
		fh_result_free(r);
		return -1;
	}
	while (hdr_next_field(text, len, &pos, &f)) {
		size_t vlen = hdr_unfold(f.value, f.value_len, buf);

		if (hdr_name_is(&f, "Message-ID") && r->message_id == NULL) {
			r->message_id = fh_message_id(buf, vlen);
		} else if (hdr_name_is(&f, FH_FETCHED_HEADER) &&
			   o->account != NULL) {
			char *v = buf;

			while (fh_is_wsp(*v))
				v++;
			while (vlen > 0 && fh_is_wsp(buf[vlen - 1]))
				buf[--vlen] = '\0';
			if (strcmp(v, o->account) == 0)
				r->fetched_mark = true;
		} else if (hdr_name_is(&f, "Received") && o->account != NULL &&
			   o->hostname != NULL) {
			if (ftrace_is_ours(buf, vlen, o->hostname, o->account))
				r->fetched_mark = true;
		} else if (hdr_name_is(&f, "Delivered-To")) {
			struct fh_keys k = { NULL, r->delivered_to,
					     &r->n_delivered_to, FH_MAX_ADDRS,
					     false };

			hdr_address_list(buf, vlen, NULL, fh_add_key, &k);
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
