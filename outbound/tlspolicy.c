/* outbound/tlspolicy.c: the TLS decision of one attempt to one MX host,
 * DANE (RFC 7672) and the configured modes (outbound/tlspolicy.h). */
#include "autoconf.h"

#include "outbound/tlspolicy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tlsp_dane tlsp_dane_of(const struct dns_answer *a)
{
	switch (a->status) {
	case DNS_BOGUS:
	case DNS_TEMPFAIL:
		return TLSP_DANE_UNKNOWN;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		return TLSP_DANE_NONE;
	case DNS_OK:
		break;
	}
	if (a->security != DNS_SECURE)
		return TLSP_DANE_NONE;
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_tlsa *r = &a->tlsa[i];
		struct tls_tlsa rr = { .usage = r->usage, .selector = r->selector,
				       .mtype = r->mtype, .len = r->len,
				       .data = r->data };

		if (tls_tlsa_usable(&rr))
			return TLSP_DANE_USABLE;
	}
	return TLSP_DANE_UNUSABLE;
}

bool tlsp_wants_tlsa(enum config_outbound_tls mode, bool mx_secure,
		     bool addrs_secure)
{
	return mode == CONFIG_OUTBOUND_TLS_DANE && mx_secure && addrs_secure;
}

static void set_mode(struct tlsp_out *out, enum smtpc_tls tls,
		     const char *name)
{
	out->tls = tls;
	out->mode_name = name;
}

/* RFC 7672 section 3.2.2: a DANE-TA chain's leaf may name the TLSA base
 * domain (SSL_dane_enable's), the MX host name or the next-hop domain. */
static void add_name(struct tlsp_out *out, const char *name)
{
	if (name == NULL || *name == '\0' || strcasecmp(name, out->base) == 0)
		return;
	for (size_t i = 0; i < out->n_names; i++)
		if (strcasecmp(out->names[i], name) == 0)
			return;
	out->names[out->n_names++] = name;
}

static void decide_dane(const struct tlsp_in *in, struct tlsp_out *out)
{
	const struct tlsp_host *h = in->host;

	switch (h != NULL ? h->dane : TLSP_DANE_NONE) {
	case TLSP_DANE_NONE:
		set_mode(out, SMTPC_TLS_OPPORTUNISTIC, "opportunistic");
		return;
	case TLSP_DANE_UNKNOWN:
		set_mode(out, SMTPC_TLS_DANE, "dane");
		out->use = false;
		out->why = h->why;
		return;
	case TLSP_DANE_UNUSABLE:
		set_mode(out, SMTPC_TLS_ENCRYPT, "dane-unusable");
		return;
	case TLSP_DANE_USABLE:
		set_mode(out, SMTPC_TLS_DANE, "dane");
		out->base = h->base;
		out->rrs = h->rrs;
		out->n_rrs = h->n_rrs;
		add_name(out, in->mx_name);
		add_name(out, in->domain);
		return;
	}
}

static void decide_mode(const struct tlsp_in *in, struct tlsp_out *out)
{
	switch (in->mode) {
	case CONFIG_OUTBOUND_TLS_NONE:
		set_mode(out, SMTPC_TLS_NONE, "none");
		return;
	case CONFIG_OUTBOUND_TLS_REQUIRED:
		set_mode(out, SMTPC_TLS_REQUIRED, "required");
		return;
	case CONFIG_OUTBOUND_TLS_OPPORTUNISTIC:
		set_mode(out, SMTPC_TLS_OPPORTUNISTIC, "opportunistic");
		return;
	case CONFIG_OUTBOUND_TLS_DANE:
		decide_dane(in, out);
		return;
	}
	set_mode(out, SMTPC_TLS_OPPORTUNISTIC, "opportunistic");
}

void tlsp_decide(const struct tlsp_in *in, struct tlsp_out *out)
{
	bool dane = in->mode == CONFIG_OUTBOUND_TLS_DANE && in->host != NULL &&
		    in->host->dane != TLSP_DANE_NONE;

	*out = (struct tlsp_out){ .use = true, .why = "" };
	if (dane)
		out->report = TLSRPT_POLICY_TLSA;
	else if (in->sts != TLSP_STS_NONE)
		out->report = TLSRPT_POLICY_STS;
	if (!dane && in->sts == TLSP_STS_ENFORCE) {
		set_mode(out, SMTPC_TLS_REQUIRED, "mta-sts-enforce");
		return;
	}
	decide_mode(in, out);
	if (!dane && in->sts == TLSP_STS_TESTING &&
	    out->tls == SMTPC_TLS_OPPORTUNISTIC) {
		out->mode_name = "mta-sts-testing";
		out->check = true;
	}
}

static bool same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcasecmp(a, b) == 0;
}

static char *dup_or_null(const char *s, bool *ok)
{
	char *c;

	if (s == NULL)
		return NULL;
	if ((c = strdup(s)) == NULL)
		*ok = false;
	return c;
}

int tlsp_target_copy(struct tlsp_target *t, const struct tlsp_out *out)
{
	bool ok = true;

	*t = (struct tlsp_target){ .tls = out->tls,
				   .mode_name = out->mode_name,
				   .check = out->check, .report = out->report };
	t->base = dup_or_null(out->base, &ok);
	for (; t->n_names < out->n_names; t->n_names++)
		t->names[t->n_names] = dup_or_null(out->names[t->n_names], &ok);
	if (ok && out->n_rrs > 0 &&
	    (t->rrs = calloc(out->n_rrs, sizeof(*t->rrs))) == NULL)
		ok = false;
	for (size_t i = 0; ok && i < out->n_rrs; i++) {
		unsigned char *data = malloc(out->rrs[i].len ? out->rrs[i].len : 1);

		if (data == NULL) {
			ok = false;
			break;
		}
		memcpy(data, out->rrs[i].data, out->rrs[i].len);
		t->rrs[i] = out->rrs[i];
		t->rrs[i].data = data;
		t->n_rrs++;
	}
	if (!ok)
		tlsp_target_free(t);
	return ok ? 0 : -1;
}

static bool same_rr(const struct tls_tlsa *a, const struct tls_tlsa *b)
{
	return a->usage == b->usage && a->selector == b->selector &&
	       a->mtype == b->mtype && a->len == b->len &&
	       memcmp(a->data, b->data, a->len) == 0;
}

bool tlsp_target_same(const struct tlsp_target *t, const struct tlsp_out *out)
{
	if (t->tls != out->tls || strcmp(t->mode_name, out->mode_name) != 0 ||
	    t->check != out->check || t->report != out->report ||
	    !same_str(t->base, out->base) || t->n_names != out->n_names ||
	    t->n_rrs != out->n_rrs)
		return false;
	for (size_t i = 0; i < t->n_names; i++)
		if (!same_str(t->names[i], out->names[i]))
			return false;
	for (size_t i = 0; i < t->n_rrs; i++)
		if (!same_rr(&t->rrs[i], &out->rrs[i]))
			return false;
	return true;
}

void tlsp_target_free(struct tlsp_target *t)
{
	free(t->base);
	for (size_t i = 0; i < t->n_names; i++)
		free(t->names[i]);
	for (size_t i = 0; i < t->n_rrs; i++)
		free((void *)t->rrs[i].data);
	free(t->rrs);
	*t = (struct tlsp_target){ .mode_name = "" };
}
