/* common/auth/dmarc_verdict.c: identifier alignment and the DMARC result
 * (RFC 7489 §3.1, §6.6.2, §6.6.4). */
#include "autoconf.h"

#include "common/auth/dmarc_verdict.h"

#include <string.h>

const char *dmarc_result_str(enum dmarc_result r)
{
	switch (r) {
	case DMARC_NONE: return "none";
	case DMARC_PASS: return "pass";
	case DMARC_FAIL: return "fail";
	case DMARC_TEMPERROR: return "temperror";
	case DMARC_PERMERROR: return "permerror";
	}
	return "none";
}

/* What the aligned ones among ids[0..n) say: PASS when one passed, else
 * TEMPERROR when one ended in a temporary error, else FAIL. */
static enum dmarc_id_result aligned(const struct orgdomain *od,
				    const char *from,
				    const struct dmarc_id *ids, size_t n,
				    bool strict)
{
	enum dmarc_id_result r = DMARC_ID_FAIL;

	for (size_t i = 0; i < n; i++) {
		if (ids[i].domain == NULL || ids[i].result == DMARC_ID_FAIL ||
		    !orgdomain_aligned(od, ids[i].domain, from, strict))
			continue;
		if (ids[i].result == DMARC_ID_PASS)
			return DMARC_ID_PASS;
		r = DMARC_ID_TEMPERROR;
	}
	return r;
}

static enum dmarc_policy weaker(enum dmarc_policy p)
{
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE
					: DMARC_POLICY_NONE;
}

static void no_record(const struct dmarc_discover *d,
		      struct dmarc_verdict *v)
{
	v->result = d->found == DMARC_FOUND_TEMPERROR ? DMARC_TEMPERROR
		    : d->found == DMARC_FOUND_PERMERROR ? DMARC_PERMERROR
		    : DMARC_NONE;
	v->why = d->why;
}

void dmarc_verdict(const struct orgdomain *od,
		   const struct dmarc_discover *d,
		   const struct dmarc_ids *ids, unsigned rand100,
		   struct dmarc_verdict *v)
{
	const struct dmarc_record *rec = &d->rec;
	enum dmarc_id_result spf, dkim;

	memset(v, 0, sizeof(*v));
	if (d->stage != DMARC_DONE || d->found != DMARC_FOUND_RECORD) {
		no_record(d, v);
		return;
	}
	v->policy = d->at_org ? rec->sp : rec->p;
	spf = aligned(od, d->from, ids->spf, ids->spf != NULL,
		      rec->aspf_strict);
	dkim = aligned(od, d->from, ids->dkim, ids->n_dkim, rec->adkim_strict);
	v->spf_aligned = spf == DMARC_ID_PASS;
	v->dkim_aligned = dkim == DMARC_ID_PASS;
	if (v->spf_aligned || v->dkim_aligned) {
		v->result = DMARC_PASS;
		v->why = "";
		return;
	}
	if (spf == DMARC_ID_TEMPERROR || dkim == DMARC_ID_TEMPERROR) {
		v->result = DMARC_TEMPERROR;
		v->why = "an aligned check failed temporarily";
		return;
	}
	v->result = DMARC_FAIL;
	v->why = "no aligned identifier passed";
	v->sampled_out = rand100 >= rec->pct;
	v->applied = v->sampled_out ? weaker(v->policy) : v->policy;
}
