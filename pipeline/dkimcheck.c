/* pipeline/dkimcheck.c: a message's DKIM signatures checked as its
 * content streams — the signatures taken from the header section, their
 * body hashes grouped, each result. */
#include "autoconf.h"

#include "pipeline/dkimcheck.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mail/header.h"

void dkimcheck_init(struct dkimcheck *c, size_t max)
{
	memset(c, 0, sizeof(*c));
	signhdr_init(&c->h, DKIMCHECK_HDR_MAX);
	c->max = max < DKIMCHECK_SIGS_MAX ? max : DKIMCHECK_SIGS_MAX;
}

void dkimcheck_free(struct dkimcheck *c)
{
	signhdr_free(&c->h);
	for (size_t i = 0; i < c->n; i++)
		free(c->sigs[i].sig);
	for (size_t i = 0; i < c->n_bodies; i++)
		dkim_bodyhash_free(&c->bodies[i].h);
	free(c->bodies);
	c->bodies = NULL;
	c->n = c->n_bodies = 0;
}

void dkimcheck_decide(struct dkimcheck *c, size_t i, enum dkim_result r,
		      const char *reason)
{
	struct dkimcheck_sig *s = &c->sigs[i];

	s->decided = true;
	s->result = r;
	s->reason = reason;
}

/* Take the field f as the next signature. */
static void take(struct dkimcheck *c, const struct hdr_field *f)
{
	size_t i = c->n++;
	struct dkimcheck_sig *s = &c->sigs[i];
	const char *why;

	s->field = f->name;
	s->body = SIZE_MAX;
	s->field_len = (size_t)(f->value + f->value_len - f->name);
	if ((s->sig = malloc(sizeof(*s->sig))) == NULL) {
		dkimcheck_decide(c, i, DKIM_TEMPERROR, "out of memory");
		return;
	}
	if (dkim_sig_parse(f->value, f->value_len, s->sig, &why) < 0) {
		free(s->sig);
		s->sig = NULL;
		dkimcheck_decide(c, i, DKIM_PERMERROR, why);
	}
}

/* The body hash of signature i: one already made for its body
 * canonicalization and l=, or a new one. */
static void group(struct dkimcheck *c, size_t i)
{
	const struct dkim_sig *sig = c->sigs[i].sig;
	struct dkimcheck_body *b;
	size_t k;

	for (k = 0; k < c->n_bodies; k++) {
		b = &c->bodies[k];
		if (b->canon == sig->bcanon && b->limited == sig->has_l &&
		    (!b->limited || b->l == sig->l))
			break;
	}
	if (k == c->n_bodies) {
		b = &c->bodies[k];
		b->canon = sig->bcanon;
		b->limited = sig->has_l;
		b->l = sig->has_l ? sig->l : 0;
		if (dkim_bodyhash_init(&b->h, b->canon, b->limited, b->l) < 0) {
			dkimcheck_decide(c, i, DKIM_TEMPERROR, "out of memory");
			return;
		}
		c->n_bodies++;
	}
	c->sigs[i].body = k;
}

/* A header section over the bound: nothing is checked. */
static void too_long(struct dkimcheck *c)
{
	if (c->n == 0 && c->max > 0) {
		c->n = 1;
		c->found = c->found > 0 ? c->found : 1;
	}
	for (size_t i = 0; i < c->n; i++)
		dkimcheck_decide(c, i, DKIM_PERMERROR, "header too long");
}

/* The header section has ended: its signatures, their body hashes. */
static void collect(struct dkimcheck *c)
{
	const char *hdr = c->h.buf != NULL ? c->h.buf : "";
	struct hdr_field f;
	size_t pos = 0;

	c->started = true;
	while (hdr_next_field(hdr, c->h.len, &pos, &f))
		if (hdr_name_is(&f, "DKIM-Signature") && c->found++ < c->max)
			take(c, &f);
	if (c->h.over) {
		too_long(c);
		return;
	}
	if (c->n > 0 &&
	    (c->bodies = calloc(c->n, sizeof(*c->bodies))) == NULL) {
		for (size_t i = 0; i < c->n; i++)
			if (!c->sigs[i].decided)
				dkimcheck_decide(c, i, DKIM_TEMPERROR,
						 "out of memory");
		return;
	}
	for (size_t i = 0; i < c->n; i++)
		if (!c->sigs[i].decided)
			group(c, i);
}

static void feed_bodies(struct dkimcheck *c, const char *p, size_t n)
{
	for (size_t k = 0; k < c->n_bodies && n > 0; k++)
		dkim_bodyhash_feed(&c->bodies[k].h, p, n);
}

bool dkimcheck_feed(struct dkimcheck *c, const char *buf, size_t len)
{
	size_t end, body;

	if (c->finished)
		return false;
	if (c->started) {
		feed_bodies(c, buf, len);
		return false;
	}
	if (!signhdr_feed(&c->h, buf, len, &end))
		return false;
	/* The empty line's CR is at end (or ended the last piece), its LF
	 * next: the body follows it. */
	body = end == SIZE_MAX ? 1 : end + 2;
	collect(c);
	feed_bodies(c, buf + body, len - body);
	return true;
}

bool dkimcheck_end(struct dkimcheck *c)
{
	bool now = !c->started;

	if (c->finished)
		return false;
	if (now)
		collect(c);
	for (size_t k = 0; k < c->n_bodies; k++)
		dkim_bodyhash_finish(&c->bodies[k].h); /* failed: in h */
	c->finished = true;
	return now;
}

bool dkimcheck_wants_key(const struct dkimcheck *c, size_t i)
{
	const struct dkimcheck_sig *s = &c->sigs[i];

	/* rsa-sha1 is a policy result whatever the key says. */
	return !s->decided && s->sig != NULL && s->sig->alg != DKIM_RSA_SHA1;
}

int dkimcheck_key_name(struct dkimcheck *c, size_t i, char *name,
		       size_t size)
{
	const struct dkim_sig *sig = c->sigs[i].sig;
	int n = snprintf(name, size, "%s._domainkey.%s", sig->s, sig->d);

	if (n < 0 || (size_t)n >= size) {
		dkimcheck_decide(c, i, DKIM_PERMERROR, "key name too long");
		return -1;
	}
	return 0;
}

void dkimcheck_verify(struct dkimcheck *c, size_t i, const char *rec,
		      size_t len, time_t now)
{
	struct dkimcheck_sig *s = &c->sigs[i];

	if (s->decided)
		return;
	s->result = dkim_verify_one(s->sig, s->field, s->field_len,
				    c->h.buf != NULL ? c->h.buf : "",
				    c->h.len, &c->bodies[s->body].h, rec, len,
				    now, &s->reason);
	s->decided = true;
}
