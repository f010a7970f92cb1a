/* admin/dnsrec_cmp.c: a DNS answer against the record a domain needs, by
 * the rule admin/dnsrec.h states: the value for records with one right
 * value, one well-formed record of its kind for policy records. */
#include "autoconf.h"

#include "admin/dnsrec.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/auth/dkim_key.h"
#include "common/dns/dns_name.h"
#include "outbound/mtasts_policy.h"

/* "got R1 R2 ...": the answer's records, cut to len. */
static enum dnsrec_verdict got_records(const struct dns_answer *a, char *got,
				       size_t len)
{
	size_t o;

	snprintf(got, len, "got");
	for (size_t i = 0; i < a->n && (o = strlen(got)) + 2 < len; i++) {
		got[o++] = ' ';
		dns_record_format(a, i, got + o, len - o);
	}
	return DNSREC_DIFFERS;
}

static enum dnsrec_verdict cmp_mx(const struct dnsrec *r,
				  const struct dns_answer *a, char *got,
				  size_t len)
{
	for (size_t i = 0; i < a->n; i++)
		if (dns_name_eq(a->mx[i].host, r->target))
			return DNSREC_OK;
	if (dns_is_null_mx(a)) {
		snprintf(got, len, "got 0 . (the null MX: no mail at all)");
		return DNSREC_DIFFERS;
	}
	return got_records(a, got, len);
}

static enum dnsrec_verdict cmp_value(const struct dnsrec *r,
				     const struct dns_answer *a, char *got,
				     size_t len)
{
	for (size_t i = 0; i < a->n; i++) {
		switch (r->kind) {
		case DNSREC_ADDR:
			if (memcmp(a->addr[i].addr, r->addr,
				   r->type == DNS_T_A ? 4 : 16) == 0)
				return DNSREC_OK;
			break;
		case DNSREC_SRV:
			if (a->srv[i].port == r->port &&
			    dns_name_eq(a->srv[i].target, r->target))
				return DNSREC_OK;
			break;
		case DNSREC_PTR:
			if (dns_name_eq(a->ptr[i], r->target))
				return DNSREC_OK;
			break;
		case DNSREC_TLSA: {
			char rec[DNSREC_VALUE_MAX];

			dns_record_format(a, i, rec, sizeof(rec));
			if (strcasecmp(rec, r->value) == 0)
				return DNSREC_OK;
			break;
		}
		default:
			break;
		}
	}
	return got_records(a, got, len);
}

static enum dnsrec_verdict cmp_dkim(const struct dnsrec *r,
				    const struct dns_answer *a, char *got,
				    size_t len)
{
	struct dkim_key want, have;
	const char *why = "no DKIM key record";

	if (dkim_key_parse(r->text, strlen(r->text), &want, &why) < 0) {
		snprintf(got, len, "the key itself: %s", why);
		return DNSREC_DIFFERS;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (dkim_key_parse(a->txt[i], strlen(a->txt[i]), &have, &why) < 0)
			continue;
		if (have.type == want.type && have.p_len == want.p_len &&
		    memcmp(have.p, want.p, want.p_len) == 0)
			return DNSREC_OK;
		why = have.revoked ? "the key is revoked (p= empty)"
				   : "another key";
	}
	got_records(a, got, len);
	snprintf(got + strlen(got), len - strlen(got), ": %s", why);
	return DNSREC_DIFFERS;
}

/* Whether rec starts with the version tag v, then the end, blanks or
 * (tag lists only) ';'. */
static bool v_first(const char *rec, const char *v, bool spf)
{
	size_t n = strlen(v);
	char c;

	if ((spf ? strncasecmp(rec, v, n) : strncmp(rec, v, n)) != 0)
		return false;
	c = rec[n];
	return c == '\0' || c == ' ' || (!spf && (c == '\t' || c == ';'));
}

/* s[0..n) without blanks at either end, into out. */
static void trimmed(const char *s, size_t n, char *out, size_t outlen)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	snprintf(out, outlen, "%.*s", (int)n, s);
}

/* The value of tag name in the tag list rec (RFC 6376 §3.2 syntax, as
 * DMARC and TLS-RPT use it), blanks trimmed, into out; false without it. */
static bool tag_value(const char *rec, const char *name, char *out,
		      size_t outlen)
{
	char tag[DNSREC_VALUE_MAX];

	for (;;) {
		size_t k = strcspn(rec, ";"), eq = strcspn(rec, "=");

		if (eq < k) {
			trimmed(rec, eq, tag, sizeof(tag));
			if (strcmp(tag, name) == 0) {
				trimmed(rec + eq + 1, k - eq - 1, out, outlen);
				return true;
			}
		}
		if (rec[k] == '\0')
			return false;
		rec += k + 1;
	}
}

/* What is wrong with the one policy record rec of r's kind, or NULL. */
static const char *policy_fault(const struct dnsrec *r, const char *rec)
{
	char val[DNSREC_VALUE_MAX], id[MTASTS_ID_MAX + 1];
	const char *why = NULL;

	switch (r->kind) {
	case DNSREC_DMARC:
		if (!tag_value(rec, "p", val, sizeof(val)))
			return "no p= tag";
		if (strcmp(val, "none") != 0 && strcmp(val, "quarantine") != 0 &&
		    strcmp(val, "reject") != 0)
			return "p= is not none, quarantine or reject";
		return NULL;
	case DNSREC_TLSRPT:
		if (!tag_value(rec, "rua", val, sizeof(val)))
			return "no rua= tag";
		if (strncmp(val, "mailto:", 7) != 0 && strncmp(val, "https:", 6) != 0)
			return "rua= is not a mailto: or https: URI";
		return NULL;
	case DNSREC_MTASTS:
		return mtasts_txt_parse(&rec, 1, id, &why) < 0 ? why : NULL;
	default:
		return NULL;
	}
}

static const char *policy_tag(enum dnsrec_kind k)
{
	switch (k) {
	case DNSREC_SPF: return "v=spf1";
	case DNSREC_DMARC: return "v=DMARC1";
	case DNSREC_TLSRPT: return "v=TLSRPTv1";
	default: return "v=STSv1";
	}
}

static enum dnsrec_verdict cmp_policy(const struct dnsrec *r,
				      const struct dns_answer *a, char *got,
				      size_t len)
{
	const char *tag = policy_tag(r->kind), *one = NULL, *why;
	size_t count = 0;
	char rec[DNSREC_VALUE_MAX];

	for (size_t i = 0; i < a->n; i++)
		if (v_first(a->txt[i], tag, r->kind == DNSREC_SPF)) {
			one = a->txt[i];
			count++;
		}
	if (count == 0)
		return DNSREC_MISSING;
	if (count > 1) {
		got_records(a, got, len);
		snprintf(got + strlen(got), len - strlen(got),
			 ": %zu %s records, there must be one", count, tag);
		return DNSREC_DIFFERS;
	}
	if ((why = policy_fault(r, one)) == NULL)
		return DNSREC_OK;
	snprintf(rec, sizeof(rec), "%s", one);
	snprintf(got, len, "got \"%s\": %s", rec, why);
	return DNSREC_DIFFERS;
}

static enum dnsrec_verdict by_status(const struct dns_answer *a, char *got,
				     size_t len)
{
	switch (a->status) {
	case DNS_OK:
		return DNSREC_OK;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		return DNSREC_MISSING;
	case DNS_BOGUS:
		snprintf(got, len, "DNSSEC validation failed: %s",
			 a->why != NULL ? a->why : "bogus answer");
		return DNSREC_DIFFERS;
	case DNS_TEMPFAIL:
		break;
	}
	snprintf(got, len, "%s", a->why != NULL ? a->why : "no answer");
	return DNSREC_FAILED;
}

enum dnsrec_verdict dnsrec_compare(const struct dnsrec *r,
				   const struct dns_answer *a, char *got,
				   size_t gotlen)
{
	enum dnsrec_verdict v;

	if (gotlen == 0)
		return DNSREC_FAILED;
	got[0] = '\0';
	if ((v = by_status(a, got, gotlen)) != DNSREC_OK)
		return v;
	if (a->type != r->type) {
		snprintf(got, gotlen, "an answer of another type");
		return DNSREC_FAILED;
	}
	switch (r->kind) {
	case DNSREC_MX:
		return cmp_mx(r, a, got, gotlen);
	case DNSREC_ADDR_ANY:
	case DNSREC_NOTE:
		return DNSREC_OK;
	case DNSREC_DKIM:
		return cmp_dkim(r, a, got, gotlen);
	case DNSREC_SPF:
	case DNSREC_DMARC:
	case DNSREC_TLSRPT:
	case DNSREC_MTASTS:
		return cmp_policy(r, a, got, gotlen);
	default:
		return cmp_value(r, a, got, gotlen);
	}
}

const char *dnsrec_verdict_str(enum dnsrec_verdict v)
{
	switch (v) {
	case DNSREC_OK: return "ok";
	case DNSREC_MISSING: return "missing";
	case DNSREC_DIFFERS: return "differs";
	case DNSREC_FAILED: return "DNS failure";
	}
	return "?";
}
