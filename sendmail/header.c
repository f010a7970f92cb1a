/* sendmail/header.c: the header section kantorpos-sendmail writes
 * (sendmail/header.h) — Bcc dropped, the To/Cc/Bcc mailboxes for -t read
 * with common/mail/header.h, a From: added when there is none. */
#include "autoconf.h"

#include "sendmail/header.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mail/header.h"

static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80 ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* The display name as a phrase: as it is when it is atoms and blanks,
 * else a quoted string; controls (a CR or LF that would start another
 * field) become blanks. */
static void put_name(FILE *f, const char *name)
{
	bool plain = true;

	for (const unsigned char *p = (const void *)name; *p != '\0'; p++)
		if (!is_atext(*p) && *p != ' ')
			plain = false;
	if (!plain)
		fputc('"', f);
	for (const unsigned char *p = (const void *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			fputc(' ', f);
			continue;
		}
		if (!plain && (*p == '"' || *p == '\\'))
			fputc('\\', f);
		fputc(*p, f);
	}
	if (!plain)
		fputc('"', f);
	fputc(' ', f);
}

/* Where -t puts the mailboxes; oom when one could not be kept. */
struct found {
	struct sm_header *h;
	bool oom;
};

static bool add_rcpt(void *arg, const struct addr_mailbox *mb)
{
	struct found *fd = arg;
	struct sm_header *h = fd->h;
	struct addr_mailbox *grown = realloc(h->rcpts, (h->n_rcpts + 1) *
							       sizeof(*grown));

	if (grown == NULL) {
		fd->oom = true;
		return false;
	}
	h->rcpts = grown;
	h->rcpts[h->n_rcpts++] = *mb;
	return true;
}

/* With -t: the mailboxes of an address field. False when out of memory. */
static bool extract(const struct hdr_field *f, const struct sm_msg_opts *o,
		    struct sm_header *h, char *buf)
{
	struct found fd = { h, false };
	size_t len;

	if (!o->extract || (!hdr_name_is(f, "To") && !hdr_name_is(f, "Cc") &&
			    !hdr_name_is(f, "Bcc")))
		return true;
	len = hdr_unfold(f->value, f->value_len, buf);
	hdr_address_list(buf, len, o->qualify, add_rcpt, &fd);
	return !fd.oom;
}

int sm_header_build(const char *sec, size_t len, const struct sm_msg_opts *o,
		    struct sm_header *h)
{
	char *buf = malloc(HDR_VALUE_MAX + 1);
	FILE *out = open_memstream(&h->text, &h->len);
	struct hdr_field f;
	bool had_from = false, ok = buf != NULL && out != NULL;
	size_t pos = 0;

	h->rcpts = NULL;
	h->n_rcpts = 0;
	while (ok && hdr_next_field(sec, len, &pos, &f)) {
		ok = extract(&f, o, h, buf);
		had_from = had_from || hdr_name_is(&f, "From");
		/* Bcc names who gets a blind copy: nobody else may see it. */
		if (!hdr_name_is(&f, "Bcc"))
			fwrite(f.name, 1, (size_t)(f.value + f.value_len - f.name),
			       out);
	}
	if (ok && !had_from && o->from != NULL && o->from[0] != '\0') {
		fputs("From: ", out);
		if (o->full_name != NULL && o->full_name[0] != '\0')
			put_name(out, o->full_name);
		fprintf(out, "<%s>\r\n", o->from);
	}
	if (out != NULL) {
		fputs("\r\n", out);
		ok = fclose(out) == 0 && ok;
	}
	free(buf);
	if (!ok) {
		if (out == NULL)
			h->text = NULL;
		sm_header_free(h);
		return -1;
	}
	return 0;
}

void sm_header_free(struct sm_header *h)
{
	free(h->text);
	free(h->rcpts);
	memset(h, 0, sizeof(*h));
}
