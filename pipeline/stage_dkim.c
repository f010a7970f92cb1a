/* pipeline/stage_dkim.c: DKIM signing (RFC 6376, RFC 8463) of mail from
 * authenticated users and from local users (kantorpos-sendmail), never
 * of mail from the outside: when the From: domain is a dkim_sign domain
 * or a subdomain of one (the most specific wins), the message is signed
 * with every key of that domain, relaxed/relaxed, over the default fields
 * of common/auth/dkim_sign.h (From signed twice), with t=.
 *
 * Last in the stage list, so the signatures cover the content as stored.
 * The header section streams on as it comes, a copy kept (bounded,
 * pipeline/signhdr.h) for the header hash; the fields go at its end,
 * before the empty line (its From: decides the key, so they cannot go
 * earlier without holding the section, and a verifier takes a signature
 * wherever it stands in the section). The body hash needs the whole
 * body, so each field is written as a placeholder of its exact size and
 * replaced at the end (stage_out_overwrite): the message keeps streaming
 * into the sink and memory stays bounded. The signing itself (RSA costs
 * about a millisecond) runs on the io pool where there is one. A key of
 * the domain that did not load refuses the message for now rather than
 * send it unsigned. */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/auth/dkim_bodyhash.h"
#include "common/auth/dkim_sign.h"
#include "common/config/config.h"
#include "common/config/config_dkim.h"
#include "common/net/worker.h"
#include "pipeline/pipeline.h"
#include "pipeline/signhdr.h"
#include "pipeline/stage.h"

/* The room of one field (an RSA key of CONFIG_DKIM_RSA_MAX bits with the
 * default h= fits). */
#define DKIM_FIELD_MAX 2048

struct placed {
	const struct config_dkim *k;
	uint64_t off;    /* where the placeholder went */
	char *field;     /* the placeholder */
	size_t len;
	char *final;     /* the signed field, as long */
};

struct dkim_st {
	struct signhdr h;
	bool held_cr;    /* a CR that may start the empty line, not passed */
	bool signing;
	uint64_t t;
	const char *domain;
	struct dkim_bodyhash bh;
	size_t n;
	struct placed keys[CONFIG_DKIM_KEYS_MAX];
	/* The end, while the io pool signs. */
	struct pipe_tx *tx;
	struct stage_out out;
	struct pipe_reply *r;
	bool failed;
};

static bool dkim_wants(struct pipe_tx *tx)
{
	const struct pipe_msg *m = pipe_tx_msg(tx);

	if (pipe_tx_env(tx)->cfg->n_dkim == 0)
		return false;
	return (m->origin == PIPE_SUBMISSION && m->client.login[0] != '\0') ||
	       m->origin == PIPE_SENDMAIL;
}

static int local_error(struct pipe_reply *r)
{
	return stage_reply(r, STAGE_TEMPFAIL, 451, "4.3.0",
			   "Local error in processing, try again later");
}

static int dkim_begin(struct pipe_tx *tx, void **st, struct stage_out *out,
		      struct pipe_reply *r)
{
	struct dkim_st *d = calloc(1, sizeof(*d));

	(void)tx;
	(void)out;
	if (d == NULL)
		return local_error(r);
	signhdr_init(&d->h, SIGNHDR_MAX);
	*st = d;
	return STAGE_CONTINUE;
}

static void dkim_reset(void *st)
{
	struct dkim_st *d = st;

	signhdr_free(&d->h);
	if (d->signing)
		dkim_bodyhash_free(&d->bh);
	for (size_t i = 0; i < d->n; i++) {
		free(d->keys[i].field);
		free(d->keys[i].final);
	}
	free(d);
}

/* One field for key k over the header copy and body hash bh (NULL: the
 * placeholder). */
static char *make_field(const struct dkim_st *d, const struct config_dkim *k,
			const unsigned char *bh)
{
	static const unsigned char zero[DKIM_HASH_LEN];
	struct dkim_sign_req req = {
		.key = k->key, .domain = k->domain, .selector = k->selector,
		.hcanon = DKIM_CANON_RELAXED, .bcanon = DKIM_CANON_RELAXED,
		.names = NULL, .t = d->t, .bh = bh != NULL ? bh : zero,
		.hdr = d->h.buf != NULL ? d->h.buf : "", .hdr_len = d->h.len,
		.placeholder = bh == NULL,
	};
	const char *why;

	return dkim_sign(&req, &why);
}

/* The header section has ended: choose the keys, write a placeholder
 * for each. CONTINUE, or the refusal. */
static int start_signing(struct pipe_tx *tx, struct dkim_st *d,
			 struct stage_out *out, struct pipe_reply *r)
{
	const struct config *cfg = pipe_tx_env(tx)->cfg;
	char from[ADDR_DOMAIN_MAX + 1];

	if (d->h.over)
		return stage_reply(r, STAGE_REJECT, 552, "5.3.4",
				   "Header section too long to sign (at most %d octets)",
				   SIGNHDR_MAX);
	if (signhdr_from_domain(d->h.buf != NULL ? d->h.buf : "", d->h.len,
				from) < 0 ||
	    (d->domain = config_dkim_domain(cfg, from)) == NULL) {
		pipe_tx_note(tx, "dkim=none");
		return STAGE_CONTINUE;
	}
	if (stage_out_offset(out) == UINT64_MAX)
		return STAGE_CONTINUE; /* nothing is stored */
	if (dkim_bodyhash_init(&d->bh, DKIM_CANON_RELAXED, false, 0) < 0)
		return local_error(r);
	d->signing = true;
	d->t = (uint64_t)time(NULL);
	for (size_t i = 0; i < cfg->n_dkim && d->n < CONFIG_DKIM_KEYS_MAX; i++) {
		const struct config_dkim *k = &cfg->dkim[i];
		struct placed *p = &d->keys[d->n];

		if (strcmp(k->domain, d->domain) != 0)
			continue;
		if (k->key == NULL)
			return stage_reply(r, STAGE_TEMPFAIL, 451, "4.7.0",
					   "DKIM key %s._domainkey.%s not loaded, try again later",
					   k->selector, k->domain);
		p->k = k;
		if ((p->field = make_field(d, k, NULL)) == NULL)
			return local_error(r);
		p->len = strlen(p->field);
		if (p->len > DKIM_FIELD_MAX)
			return local_error(r);
		p->off = stage_out_offset(out);
		d->n++;
		stage_out_write(out, p->field, p->len);
	}
	return STAGE_CONTINUE;
}

/* Content while the header section streams. */
static int header_content(struct pipe_tx *tx, struct dkim_st *d,
			  const char *buf, size_t len, struct stage_out *out,
			  struct pipe_reply *r)
{
	bool had_cr = d->held_cr;
	size_t end, body;
	int v;

	d->held_cr = false;
	if (!signhdr_feed(&d->h, buf, len, &end)) {
		if (had_cr)
			stage_out_write(out, "\r", 1);
		/* A CR at a line start may begin the empty line: keep it
		 * back, the fields would have to go before it. */
		d->held_cr = d->h.cr_start && len > 0;
		stage_out_write(out, buf, d->held_cr ? len - 1 : len);
		return STAGE_CONTINUE;
	}
	if (end != SIZE_MAX) {
		if (had_cr)
			stage_out_write(out, "\r", 1);
		stage_out_write(out, buf, end);
	}
	v = start_signing(tx, d, out, r);
	if (end == SIZE_MAX) {
		stage_out_write(out, "\r", 1);
		end = 0;
		body = 1;
	} else {
		body = end + 2;
	}
	stage_out_write(out, buf + end, len - end);
	if (d->signing)
		dkim_bodyhash_feed(&d->bh, buf + body, len - body);
	return v;
}

static int dkim_content(struct pipe_tx *tx, void **st, const char *buf,
			size_t len, struct stage_out *out, struct pipe_reply *r)
{
	struct dkim_st *d = *st;

	if (d == NULL || d->h.done) {
		if (d != NULL && d->signing)
			dkim_bodyhash_feed(&d->bh, buf, len);
		stage_out_write(out, buf, len);
		return STAGE_CONTINUE;
	}
	return header_content(tx, d, buf, len, out, r);
}

/* Do a and b have their line ends at the same places? */
static bool same_lines(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((a[i] == '\r' || a[i] == '\n' || b[i] == '\r' ||
		     b[i] == '\n') && a[i] != b[i])
			return false;
	return true;
}

/* The body hash and the signed fields (any thread: nothing but d). */
static void sign_run(void *arg)
{
	struct dkim_st *d = arg;

	d->failed = dkim_bodyhash_finish(&d->bh) < 0;
	for (size_t i = 0; i < d->n && !d->failed; i++) {
		struct placed *p = &d->keys[i];

		p->final = make_field(d, p->k, d->bh.digest);
		d->failed = p->final == NULL || strlen(p->final) != p->len ||
			    !same_lines(p->final, p->field, p->len);
	}
}

/* The signed fields over the placeholders (loop thread). */
static int sign_apply(struct dkim_st *d)
{
	char sels[128] = "";
	size_t o = 0;

	for (size_t i = 0; i < d->n && !d->failed; i++) {
		struct placed *p = &d->keys[i];

		if (stage_out_overwrite(&d->out, p->off, p->final, p->len) < 0)
			d->failed = true;
		else if (o < sizeof(sels))
			o += (size_t)snprintf(sels + o, sizeof(sels) - o,
					      "%s%s", i ? "," : "",
					      p->k->selector);
	}
	if (d->failed)
		return local_error(d->r);
	if (d->n > 0)
		pipe_tx_note(d->tx, "dkim=signed d=%s s=%s", d->domain, sels);
	return STAGE_CONTINUE;
}

static void sign_done(void *arg)
{
	struct dkim_st *d = arg;

	pipe_stage_done(d->tx, sign_apply(d));
}

/* Sign on the io pool, or inline without one (or with a full one). */
static int finish_signing(struct pipe_tx *tx, struct dkim_st *d,
			  struct stage_out *out, struct pipe_reply *r)
{
	struct worker *io = pipe_tx_env(tx)->io;

	d->tx = tx;
	d->out = *out;
	d->r = r;
	if (io != NULL && worker_submit(io, sign_run, sign_done, d) == 0)
		return STAGE_WAIT;
	sign_run(d);
	return sign_apply(d);
}

static int dkim_end(struct pipe_tx *tx, void **st, struct stage_out *out,
		    struct pipe_reply *r)
{
	struct dkim_st *d = *st;
	int v;

	if (d == NULL) /* never begun: fail closed */
		return local_error(r);
	if (!d->h.done) {
		/* No empty line: a header section that ends with the
		 * content, complete when it ends at a line start. */
		if (d->held_cr)
			stage_out_write(out, "\r", 1);
		if (d->held_cr || !d->h.line_start) {
			pipe_tx_note(tx, "dkim=none");
			return STAGE_CONTINUE;
		}
		d->h.done = true;
		if ((v = start_signing(tx, d, out, r)) != STAGE_CONTINUE)
			return v;
	}
	return d->signing ? finish_signing(tx, d, out, r) : STAGE_CONTINUE;
}

const struct stage stage_dkim = {
	.name = "dkim",
	.grow = CONFIG_DKIM_KEYS_MAX * DKIM_FIELD_MAX + 1,
	.wants = dkim_wants,
	.begin = dkim_begin,
	.content = dkim_content,
	.end = dkim_end,
	.reset = dkim_reset,
};
