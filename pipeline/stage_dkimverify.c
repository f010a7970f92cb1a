/* pipeline/stage_dkimverify.c: DKIM verification (RFC 6376 §6, RFC 8463,
 * RFC 8301) of mail received on mx from clients outside
 * trusted_networks. The content streams on untouched while
 * pipeline/dkimcheck.h keeps the header section and hashes the body; as
 * soon as the header section ends, the key record of each signature
 * (the first dkim_max_signatures) is asked of the resolver, so the
 * answers come while the body is still arriving. The end waits for the
 * answers still out (the resolver's own time limit ends each: a timeout
 * is a temperror), then the signatures are checked on the io pool (RSA
 * and Ed25519 verification), and the results go to the log line
 * ("dkim=pass:d=example.org:s=sel,...") and to pipeline/dkim_results.h.
 * Nothing is refused on DKIM alone: a failed signature is as none at
 * all (RFC 6376 §6.3). */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/log.h"
#include "common/config/config.h"
#include "common/dns/dns.h"
#include "common/net/worker.h"
#include "common/proto/sasl.h"
#include "pipeline/dkim_results.h"
#include "pipeline/dkimcheck.h"
#include "pipeline/pipeline.h"
#include "pipeline/stage.h"

struct dkimv_st;

/* The key lookup of one signature. */
struct key_q {
	struct dkimv_st *v;
	size_t i;
	struct dns_query *q;    /* while out */
	char *rec;              /* the first TXT record; NULL: none */
	size_t rec_len;
};

struct dkimv_st {
	struct dkimcheck c;
	struct key_q keys[DKIMCHECK_SIGS_MAX];
	size_t pending;         /* lookups out */
	/* The end, while it waits for them or the io pool checks. */
	bool ending;
	struct pipe_tx *tx;
	time_t now;
	bool done;
	struct dkim_res res[DKIMCHECK_SIGS_MAX];
	struct dkim_results results;
};

extern const struct stage stage_dkimverify;

static bool dkimv_wants(struct pipe_tx *tx)
{
	const struct pipe_env *env = pipe_tx_env(tx);
	const struct pipe_msg *m = pipe_tx_msg(tx);

	return m->origin == PIPE_MX && env->dns != NULL && env->io != NULL &&
	       env->cfg->dkim_max_signatures > 0 &&
	       !config_client_trusted(env->cfg, m->client.addr);
}

static int dkimv_begin(struct pipe_tx *tx, void **st, struct stage_out *out,
		       struct pipe_reply *r)
{
	struct dkimv_st *v = calloc(1, sizeof(*v));

	(void)out;
	(void)r;
	if (v == NULL)
		return STAGE_CONTINUE; /* unchecked, never refused for it */
	dkimcheck_init(&v->c, pipe_tx_env(tx)->cfg->dkim_max_signatures);
	*st = v;
	return STAGE_CONTINUE;
}

static void dkimv_reset(void *st)
{
	struct dkimv_st *v = st;

	for (size_t i = 0; i < v->c.n; i++) {
		if (v->keys[i].q != NULL)
			dns_cancel(v->keys[i].q);
		free(v->keys[i].rec);
	}
	dkimcheck_free(&v->c);
	free(v);
}

static void start_check(struct dkimv_st *v);

/* The answer for one key (RFC 6376 §6.1.2): no record is a permerror
 * (dkimcheck_verify with none), a failure a temperror. */
static void key_answered(void *arg, const struct dns_answer *a)
{
	struct key_q *k = arg;
	struct dkimv_st *v = k->v;

	k->q = NULL;
	v->pending--;
	if (a->status == DNS_OK && a->n > 0) {
		k->rec_len = strlen(a->txt[0]);
		if ((k->rec = strdup(a->txt[0])) == NULL)
			dkimcheck_decide(&v->c, k->i, DKIM_TEMPERROR,
					 "out of memory");
	} else if (a->status == DNS_TEMPFAIL) {
		dkimcheck_decide(&v->c, k->i, DKIM_TEMPERROR,
				 "key lookup failed");
	} else if (a->status == DNS_BOGUS) {
		dkimcheck_decide(&v->c, k->i, DKIM_TEMPERROR,
				 "key answer failed DNSSEC validation");
	}
	if (v->ending && v->pending == 0)
		start_check(v);
}

/* The header section has ended: ask for every key needed. */
static void ask_keys(struct pipe_tx *tx, struct dkimv_st *v)
{
	struct dns *dns = pipe_tx_env(tx)->dns;
	char name[DKIM_DOMAIN_MAX * 2 + 16];

	for (size_t i = 0; i < v->c.n; i++) {
		struct key_q *k = &v->keys[i];

		k->v = v;
		k->i = i;
		if (!dkimcheck_wants_key(&v->c, i) ||
		    dkimcheck_key_name(&v->c, i, name, sizeof(name)) < 0)
			continue;
		k->q = dns_lookup(dns, name, DNS_T_TXT, key_answered, k);
		if (k->q != NULL)
			v->pending++;
		else
			dkimcheck_decide(&v->c, i, errno == EINVAL ?
					 DKIM_PERMERROR : DKIM_TEMPERROR,
					 errno == EINVAL ? "bad key name" :
					 "key lookup failed");
	}
}

static int dkimv_content(struct pipe_tx *tx, void **st, const char *buf,
			 size_t len, struct stage_out *out,
			 struct pipe_reply *r)
{
	struct dkimv_st *v = *st;

	(void)r;
	if (v != NULL && dkimcheck_feed(&v->c, buf, len))
		ask_keys(tx, v);
	stage_out_write(out, buf, len);
	return STAGE_CONTINUE;
}

/* Every signature checked (any thread: nothing but v). */
static void check_run(void *arg)
{
	struct dkimv_st *v = arg;

	for (size_t i = 0; i < v->c.n; i++)
		dkimcheck_verify(&v->c, i, v->keys[i].rec, v->keys[i].rec_len,
				 v->now);
}

static const char *alg_name(enum dkim_alg a)
{
	switch (a) {
	case DKIM_RSA_SHA256: return "rsa-sha256";
	case DKIM_ED25519_SHA256: return "ed25519-sha256";
	case DKIM_RSA_SHA1: return "rsa-sha1";
	}
	return NULL;
}

/* The result of signature i as dkim_results.h gives it. */
static void fill_res(struct dkimv_st *v, size_t i)
{
	const struct dkimcheck_sig *s = &v->c.sigs[i];
	struct dkim_res *o = &v->res[i];

	memset(o, 0, sizeof(*o));
	o->result = s->result;
	o->reason = s->reason != NULL ? s->reason : "";
	o->d = o->s = "";
	if (s->sig == NULL)
		return;
	o->d = s->sig->d;
	o->s = s->sig->s;
	o->i = s->sig->i;
	o->i_len = s->sig->i_len;
	o->a = alg_name(s->sig->alg);
	/* 6 octets are the first 8 base64 characters (RFC 6008 §4). */
	sasl_b64_encode(s->sig->b, s->sig->b_len < 6 ? s->sig->b_len : 6,
			o->b, sizeof(o->b));
	o->has_l = s->sig->has_l;
	o->l = s->sig->l;
	o->partial = o->has_l && s->body < v->c.n_bodies &&
		     v->c.bodies[s->body].h.total > o->l;
}

/* The log words: dkim=RESULT:d=D:s=S[:l=N],... (loop thread). */
static void report(struct dkimv_st *v)
{
	char words[224];
	size_t o = 0;

	for (size_t i = 0; i < v->results.n && o < sizeof(words); i++) {
		const struct dkim_res *e = &v->res[i];

		o += (size_t)snprintf(words + o, sizeof(words) - o,
				      "%s%s:d=%s:s=%s", i > 0 ? "," : "",
				      dkim_result_str(e->result),
				      e->d[0] != '\0' ? e->d : "-",
				      e->s[0] != '\0' ? e->s : "-");
		if (e->partial && o < sizeof(words))
			o += (size_t)snprintf(words + o, sizeof(words) - o,
					      ":l=%llu",
					      (unsigned long long)e->l);
		if (e->result != DKIM_PASS)
			log_info("%s dkim %s d=%s s=%s: %s",
				 pipe_tx_label(v->tx),
				 dkim_result_str(e->result), e->d, e->s,
				 e->reason);
	}
	pipe_tx_note(v->tx, "dkim=%s", v->results.n > 0 ? words : "none");
	if (v->results.unchecked > 0)
		pipe_tx_note(v->tx, "dkim_unchecked=%zu", v->results.unchecked);
}

/* The checks are done (loop thread): the results and the log. */
static void checked(struct dkimv_st *v)
{
	v->results.n = v->c.n;
	v->results.res = v->res;
	v->results.unchecked = v->c.found - v->c.n;
	for (size_t i = 0; i < v->c.n; i++)
		fill_res(v, i);
	v->done = true;
	report(v);
}

static void check_done(void *arg)
{
	struct dkimv_st *v = arg;

	checked(v);
	pipe_stage_done(v->tx, STAGE_CONTINUE);
}

/* Check on the io pool (true), or inline without one or with a full one
 * (false: done). */
static bool check(struct dkimv_st *v)
{
	struct worker *io = pipe_tx_env(v->tx)->io;

	v->now = time(NULL);
	if (io != NULL && worker_submit(io, check_run, check_done, v) == 0)
		return true;
	check_run(v);
	checked(v);
	return false;
}

/* The last key answer came while the end waits. */
static void start_check(struct dkimv_st *v)
{
	if (!check(v))
		pipe_stage_done(v->tx, STAGE_CONTINUE);
}

static int dkimv_end(struct pipe_tx *tx, void **st, struct stage_out *out,
		     struct pipe_reply *r)
{
	struct dkimv_st *v = *st;

	(void)out;
	(void)r;
	if (v == NULL)
		return STAGE_CONTINUE;
	if (dkimcheck_end(&v->c))
		ask_keys(tx, v);
	v->tx = tx;
	v->ending = true;
	if (v->pending > 0)
		return STAGE_WAIT;
	return check(v) ? STAGE_WAIT : STAGE_CONTINUE;
}

const struct dkim_results *dkim_results(struct pipe_tx *tx)
{
	struct dkimv_st *v = pipe_tx_stage_state(tx, &stage_dkimverify);

	return v != NULL && v->done ? &v->results : NULL;
}

const struct stage stage_dkimverify = {
	.name = "dkimverify",
	.wants = dkimv_wants,
	.begin = dkimv_begin,
	.content = dkimv_content,
	.end = dkimv_end,
	.reset = dkimv_reset,
};
