/* pipeline/signhdr.c: the header section as DKIM signing reads it — the
 * copy, its end, the domain of From: (RFC 5322 §3.6.2: one From: field,
 * one or more mailboxes). */
#include "autoconf.h"

#include "pipeline/signhdr.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mail/header.h"

void signhdr_init(struct signhdr *h, size_t max)
{
	memset(h, 0, sizeof(*h));
	h->line_start = true;
	h->max = max;
}

void signhdr_free(struct signhdr *h)
{
	free(h->buf);
	h->buf = NULL;
	h->len = h->cap = 0;
}

/* Keep n more octets of the fields, up to h->max. */
static void keep(struct signhdr *h, const char *p, size_t n)
{
	if (h->over || n == 0)
		return;
	if (h->len + n > h->max) {
		h->over = true;
		n = h->max - h->len;
		if (n == 0)
			return;
	}
	if (h->len + n > h->cap) {
		size_t cap = h->cap ? h->cap : 4096;
		char *grown;

		while (cap < h->len + n)
			cap *= 2;
		if (cap > h->max)
			cap = h->max;
		if ((grown = realloc(h->buf, cap)) == NULL) {
			h->over = true;
			return;
		}
		h->buf = grown;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, p, n);
	h->len += n;
}

bool signhdr_feed(struct signhdr *h, const char *buf, size_t len,
		  size_t *end_r)
{
	size_t from = 0;

	for (size_t i = 0; i < len && !h->done; i++) {
		char c = buf[i];

		if (h->cr_start) {
			h->cr_start = false;
			if (c == '\n') {
				h->done = true;
				*end_r = i == 0 ? SIZE_MAX : i - 1;
				keep(h, buf + from, i == 0 ? 0 : i - 1 - from);
				return true;
			}
			/* A CR that starts a line of the section: keep it. */
			if (i == 0)
				keep(h, "\r", 1);
		}
		if (h->line_start && c == '\r') {
			h->cr_start = true;
			h->line_start = false;
			continue;
		}
		h->line_start = c == '\n';
	}
	if (!h->done)
		keep(h, buf + from, h->cr_start && len > 0 ? len - 1 : len);
	return false;
}

struct from_doms {
	char dom[ADDR_DOMAIN_MAX + 1];
	size_t n;
	bool mixed;
};

static bool from_mailbox(void *arg, const struct addr_mailbox *mb)
{
	struct from_doms *f = arg;

	if (f->n++ == 0)
		snprintf(f->dom, sizeof(f->dom), "%s", mb->domain);
	else if (strcasecmp(f->dom, mb->domain) != 0)
		f->mixed = true;
	return true;
}

int signhdr_from_domain(const char *hdr, size_t len, char *dom)
{
	struct hdr_field f, from = { 0 };
	struct from_doms doms = { .n = 0 };
	size_t pos = 0, n_from = 0, vlen;
	char *value;

	while (hdr_next_field(hdr, len, &pos, &f))
		if (hdr_name_is(&f, "From") && n_from++ == 0)
			from = f;
	if (n_from != 1 || (value = malloc(HDR_VALUE_MAX + 1)) == NULL)
		return -1;
	vlen = hdr_unfold(from.value, from.value_len, value);
	hdr_address_list(value, vlen, NULL, from_mailbox, &doms);
	free(value);
	if (doms.n == 0 || doms.mixed)
		return -1;
	for (size_t i = 0; doms.dom[i] != '\0'; i++)
		dom[i] = (char)tolower((unsigned char)doms.dom[i]);
	dom[strlen(doms.dom)] = '\0';
	return 0;
}
