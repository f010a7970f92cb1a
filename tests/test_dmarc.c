/* tests/test_dmarc.c: DMARC (common/auth/dmarc_*): the record's tags and
 * their defaults, policy discovery driven by scripted DNS answers, and
 * the verdict from alignment, policy and pct sampling. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/auth/dmarc_discover.h"
#include "common/auth/dmarc_record.h"
#include "common/auth/dmarc_verdict.h"

#define N_ONE DMARC_POLICY_NONE
#define QUA DMARC_POLICY_QUARANTINE
#define REJ DMARC_POLICY_REJECT

static const struct {
	const char *txt;
	enum dmarc_parse st;
	enum dmarc_policy p, sp;
	bool adkim_s, aspf_s, assumed;
	unsigned pct, fo;
	unsigned long ri;
	const char *rua, *why;
} records[] = {
	{ "v=DMARC1; p=reject", DMARC_REC_OK, REJ, REJ, 0, 0, 0, 100, 1, 86400, "", "" },
	{ "v=DMARC1;p=none;", DMARC_REC_OK, N_ONE, N_ONE, 0, 0, 0, 100, 1, 86400, "", "" },
	{ "v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=100; "
	  "rua=mailto:dmarc@example.test", DMARC_REC_OK, REJ, QUA, 1, 0, 0, 100,
	  1, 86400, "mailto:dmarc@example.test", "" },
	{ "  v = DMARC1 ;\tP = Quarantine ; ADKIM=S; Aspf = s ; pct = 25 ",
	  DMARC_REC_OK, QUA, QUA, 1, 1, 0, 25, 1, 86400, "", "" },
	{ "v=DMARC1; p=none; fo=1:d:s; ri=3600; rf=afrf", DMARC_REC_OK, N_ONE,
	  N_ONE, 0, 0, 0, 100, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S, 3600, "", "" },
	{ "v=DMARC1; p=none; fo=0 : 1", DMARC_REC_OK, N_ONE, N_ONE, 0, 0, 0, 100,
	  DMARC_FO_0 | DMARC_FO_1, 86400, "", "" },
	/* Bad optional values: their defaults, and the first one named. */
	{ "v=DMARC1; p=reject; pct=101; adkim=x", DMARC_REC_OK, REJ, REJ, 0, 0, 0,
	  100, 1, 86400, "", "bad pct= ignored" },
	{ "v=DMARC1; p=reject; pct=-1", DMARC_REC_OK, REJ, REJ, 0, 0, 0, 100, 1,
	  86400, "", "bad pct= ignored" },
	{ "v=DMARC1; p=reject; pct=0", DMARC_REC_OK, REJ, REJ, 0, 0, 0, 0, 1,
	  86400, "", "" },
	{ "v=DMARC1; p=reject; fo=1:x", DMARC_REC_OK, REJ, REJ, 0, 0, 0, 100, 1,
	  86400, "", "bad fo= ignored" },
	{ "v=DMARC1; p=reject; ri=99999999999", DMARC_REC_OK, REJ, REJ, 0, 0, 0,
	  100, 1, 86400, "", "bad ri= ignored" },
	{ "v=DMARC1; p=reject; aspf=", DMARC_REC_OK, REJ, REJ, 0, 0, 0, 100, 1,
	  86400, "", "bad aspf= ignored" },
	{ "v=DMARC1; p=reject; rua=nothing", DMARC_REC_OK, REJ, REJ, 0, 0, 0, 100,
	  1, 86400, "", "no valid URI in rua=" },
	/* Unknown tags, parts without "=", a tag again: ignored. */
	{ "v=DMARC1; p=reject; x=1; junk; p=none; np=none", DMARC_REC_OK, REJ,
	  REJ, 0, 0, 0, 100, 1, 86400, "", "" },
	/* p= after others: still found. */
	{ "v=DMARC1; adkim=s; p=quarantine", DMARC_REC_OK, QUA, QUA, 1, 0, 0, 100,
	  1, 86400, "", "" },
	/* rua= lists with sizes; one good URI is enough. */
	{ "v=DMARC1; p=none; rua=mailto:a@example.test!10m, mailto:b@x.test",
	  DMARC_REC_OK, N_ONE, N_ONE, 0, 0, 0, 100, 1, 86400,
	  "mailto:a@example.test!10m, mailto:b@x.test", "" },
	{ "v=DMARC1; p=none; rua=bad, mailto:b@x.test!", DMARC_REC_OK, N_ONE,
	  N_ONE, 0, 0, 0, 100, 1, 86400, "", "no valid URI in rua=" },
	{ "v=DMARC1; p=none; rua=bad, mailto:b@x.test!5", DMARC_REC_OK, N_ONE,
	  N_ONE, 0, 0, 0, 100, 1, 86400, "bad, mailto:b@x.test!5", "" },
	/* A bad or missing p=, a bad sp=: none with rua=, else unusable. */
	{ "v=DMARC1; p=bogus; rua=mailto:d@example.test", DMARC_REC_OK, N_ONE,
	  N_ONE, 0, 0, 1, 100, 1, 86400, "mailto:d@example.test",
	  "no valid p=, taken as p=none" },
	{ "v=DMARC1; rua=mailto:d@example.test; sp=reject", DMARC_REC_OK, N_ONE,
	  N_ONE, 0, 0, 1, 100, 1, 86400, "mailto:d@example.test",
	  "no valid p=, taken as p=none" },
	{ "v=DMARC1; p=reject; sp=x; rua=mailto:d@example.test", DMARC_REC_OK,
	  N_ONE, N_ONE, 0, 0, 1, 100, 1, 86400, "mailto:d@example.test",
	  "bad sp=, taken as p=none" },
	{ "v=DMARC1; p=bogus", DMARC_REC_UNUSABLE, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
	  "no valid p= (and no rua=)" },
	{ "v=DMARC1", DMARC_REC_UNUSABLE, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
	  "no valid p= (and no rua=)" },
	{ "v=DMARC1; p=reject; sp=rejected", DMARC_REC_UNUSABLE, 0, 0, 0, 0, 0,
	  0, 0, 0, NULL, "bad sp= (and no rua=)" },
	/* Not DMARC records at all. */
	{ "v=dmarc1; p=reject", DMARC_REC_NOT_DMARC, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
	  "not a DMARC record (no v=DMARC1 first)" },
	{ "p=reject; v=DMARC1", DMARC_REC_NOT_DMARC, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
	  "not a DMARC record (no v=DMARC1 first)" },
	{ "v=DMARC10; p=reject", DMARC_REC_NOT_DMARC, 0, 0, 0, 0, 0, 0, 0, 0,
	  NULL, "not a DMARC record (no v=DMARC1 first)" },
	{ "v=spf1 -all", DMARC_REC_NOT_DMARC, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
	  "not a DMARC record (no v=DMARC1 first)" },
	{ "", DMARC_REC_NOT_DMARC, 0, 0, 0, 0, 0, 0, 0, 0, NULL,
	  "not a DMARC record (no v=DMARC1 first)" },
};

Test(dmarc_record, table)
{
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		struct dmarc_record r;
		const char *why = NULL, *t = records[i].txt;
		enum dmarc_parse st = dmarc_record_parse(t, strlen(t), &r, &why);

		cr_expect_eq(st, records[i].st, "row %zu: %d", i, st);
		cr_expect_str_eq(why != NULL ? why : "(null)", records[i].why,
				 "row %zu", i);
		cr_expect_eq(dmarc_record_is_dmarc(t, strlen(t)),
			     records[i].st != DMARC_REC_NOT_DMARC, "row %zu", i);
		if (st != DMARC_REC_OK)
			continue;
		cr_expect_eq(r.p, records[i].p, "row %zu p", i);
		cr_expect_eq(r.sp, records[i].sp, "row %zu sp", i);
		cr_expect_eq(r.adkim_strict, records[i].adkim_s, "row %zu adkim", i);
		cr_expect_eq(r.aspf_strict, records[i].aspf_s, "row %zu aspf", i);
		cr_expect_eq(r.p_assumed, records[i].assumed, "row %zu", i);
		cr_expect_eq(r.pct, records[i].pct, "row %zu pct", i);
		cr_expect_eq(r.fo, records[i].fo, "row %zu fo", i);
		cr_expect_eq(r.ri, records[i].ri, "row %zu ri", i);
		cr_expect_eq(r.rua.len, strlen(records[i].rua), "row %zu rua", i);
		cr_expect(memcmp(t + r.rua.off, records[i].rua, r.rua.len) == 0,
			  "row %zu rua", i);
	}
}

Test(dmarc_record, rf_and_ruf)
{
	const char *t = "v=DMARC1; p=none; rf=iodef; ruf=mailto:f@example.test";
	struct dmarc_record r;
	const char *why;

	cr_assert_eq(dmarc_record_parse(t, strlen(t), &r, &why), DMARC_REC_OK);
	cr_expect(!r.rf_afrf);
	cr_expect_eq(r.ruf.len, strlen("mailto:f@example.test"));
	cr_expect_str_eq(dmarc_policy_str(REJ), "reject");
	cr_expect_str_eq(dmarc_policy_str(QUA), "quarantine");
	cr_expect_str_eq(dmarc_policy_str(N_ONE), "none");
}

/* One scripted answer: the name that must be asked, the status and up to
 * three TXT records. */
struct step {
	const char *qname;
	enum dns_status st;
	const char *txt[3];
};

static const struct {
	const char *from;
	struct step steps[3];
	enum dmarc_found found;
	bool at_org;
	enum dmarc_policy p;
	const char *why;
} discoveries[] = {
	{ "example.test", { { "_dmarc.example.test", DNS_OK,
			      { "v=DMARC1; p=reject" } } },
	  DMARC_FOUND_RECORD, false, REJ, "" },
	/* Other TXT records beside it are no DMARC records. */
	{ "Example.TEST.", { { "_dmarc.example.test", DNS_OK,
			       { "v=spf1 -all", "v=DMARC1; p=quarantine", "x" } } },
	  DMARC_FOUND_RECORD, false, QUA, "" },
	/* A subdomain without a record: the org domain's. */
	{ "mail.sub.example.test",
	  { { "_dmarc.mail.sub.example.test", DNS_NXDOMAIN, { NULL } },
	    { "_dmarc.example.test", DNS_OK, { "v=DMARC1; p=none; sp=reject" } } },
	  DMARC_FOUND_RECORD, true, N_ONE, "" },
	{ "sub.example.co.uk",
	  { { "_dmarc.sub.example.co.uk", DNS_NODATA, { NULL } },
	    { "_dmarc.example.co.uk", DNS_OK, { "v=DMARC1; p=reject" } } },
	  DMARC_FOUND_RECORD, true, REJ, "" },
	/* Only non-DMARC records at the subdomain: on to the org domain. */
	{ "sub.example.test",
	  { { "_dmarc.sub.example.test", DNS_OK, { "v=spf1 -all" } },
	    { "_dmarc.example.test", DNS_NXDOMAIN, { NULL } } },
	  DMARC_FOUND_NONE, false, N_ONE, "no DMARC record" },
	/* The org domain itself has none: no second query. */
	{ "example.test", { { "_dmarc.example.test", DNS_NXDOMAIN, { NULL } } },
	  DMARC_FOUND_NONE, false, N_ONE, "no DMARC record" },
	/* Several records: no policy, and no fallback to the org domain. */
	{ "sub.example.test",
	  { { "_dmarc.sub.example.test", DNS_OK,
	      { "v=DMARC1; p=reject", "v=DMARC1; p=none" } } },
	  DMARC_FOUND_NONE, false, N_ONE, "several DMARC records" },
	{ "sub.example.test",
	  { { "_dmarc.sub.example.test", DNS_NXDOMAIN, { NULL } },
	    { "_dmarc.example.test", DNS_OK,
	      { "v=DMARC1; p=reject", "v=DMARC1; p=reject" } } },
	  DMARC_FOUND_NONE, false, N_ONE, "several DMARC records" },
	/* An unusable record at the subdomain stops discovery there. */
	{ "sub.example.test",
	  { { "_dmarc.sub.example.test", DNS_OK, { "v=DMARC1; p=maybe" } } },
	  DMARC_FOUND_NONE, false, N_ONE, "no valid p= (and no rua=)" },
	/* DNS failures, at either step. */
	{ "example.test", { { "_dmarc.example.test", DNS_TEMPFAIL, { NULL } } },
	  DMARC_FOUND_TEMPERROR, false, N_ONE, "DNS lookup failed" },
	{ "sub.example.test",
	  { { "_dmarc.sub.example.test", DNS_NXDOMAIN, { NULL } },
	    { "_dmarc.example.test", DNS_TEMPFAIL, { NULL } } },
	  DMARC_FOUND_TEMPERROR, true, N_ONE, "DNS lookup failed" },
	{ "example.test", { { "_dmarc.example.test", DNS_BOGUS, { NULL } } },
	  DMARC_FOUND_TEMPERROR, false, N_ONE, "DNSSEC validation failed" },
	/* A public suffix as author domain is its own org domain. */
	{ "co.uk", { { "_dmarc.co.uk", DNS_NXDOMAIN, { NULL } } },
	  DMARC_FOUND_NONE, false, N_ONE, "no DMARC record" },
	/* No domain name: done at once. */
	{ "a..example.test", { { NULL } }, DMARC_FOUND_PERMERROR, false, N_ONE,
	  "author domain is no domain name" },
};

static struct orgdomain *load(void)
{
	char err[256];
	struct orgdomain *od = orgdomain_load(NULL, err, sizeof(err));

	cr_assert_not_null(od, "%s", err);
	return od;
}

/* Run discovery for from over the scripted steps; every step must be
 * asked, in order, and nothing after them. */
static void run(const struct orgdomain *od, struct dmarc_discover *d,
		const char *from, const struct step *steps, size_t row)
{
	size_t k = 0;
	const char *q;

	dmarc_discover_start(d, od, from);
	for (; (q = dmarc_discover_query(d)) != NULL; k++) {
		char *txt[3];
		size_t n = 0;

		cr_assert(k < 3 && steps[k].qname != NULL, "row %zu: asked %s", row, q);
		cr_expect_str_eq(q, steps[k].qname, "row %zu step %zu", row, k);
		while (n < 3 && steps[k].txt[n] != NULL) {
			txt[n] = (char *)steps[k].txt[n];
			n++;
		}
		dmarc_discover_answer(d, steps[k].st, txt, n);
	}
	cr_expect(k == 3 || steps[k].qname == NULL, "row %zu: step %zu not asked",
		  row, k);
}

Test(dmarc_discover, table)
{
	struct orgdomain *od = load();

	for (size_t i = 0; i < sizeof(discoveries) / sizeof(discoveries[0]); i++) {
		struct dmarc_discover d;

		run(od, &d, discoveries[i].from, discoveries[i].steps, i);
		cr_expect_eq(d.found, discoveries[i].found, "row %zu: %d", i, d.found);
		cr_expect_str_eq(d.why, discoveries[i].why, "row %zu", i);
		if (d.found != DMARC_FOUND_RECORD)
			continue;
		cr_expect_eq(d.at_org, discoveries[i].at_org, "row %zu", i);
		cr_expect_eq(d.rec.p, discoveries[i].p, "row %zu", i);
	}
	orgdomain_free(od);
}

Test(dmarc_discover, answer_after_done_is_ignored)
{
	struct orgdomain *od = load();
	struct dmarc_discover d;
	char *txt[] = { "v=DMARC1; p=reject" };

	dmarc_discover_start(&d, od, "example.test");
	dmarc_discover_answer(&d, DNS_OK, txt, 1);
	cr_assert_null(dmarc_discover_query(&d));
	dmarc_discover_answer(&d, DNS_TEMPFAIL, NULL, 0);
	cr_expect_eq(d.found, DMARC_FOUND_RECORD);
	/* The record is a copy: the answer may go away. */
	txt[0] = "v=DMARC1; p=none";
	cr_expect_str_eq(d.text, "v=DMARC1; p=reject");
	orgdomain_free(od);
}

Test(dmarc_discover, too_long_for_the_prefix)
{
	struct orgdomain *od = load();
	struct dmarc_discover d;
	char name[254];

	/* 250 octets: "_dmarc." would make 257. */
	memset(name, 'a', 250);
	name[63] = name[127] = name[191] = '.';
	memcpy(name + 246, ".com", 5);
	dmarc_discover_start(&d, od, name);
	cr_assert_not_null(dmarc_discover_query(&d));
	/* The author domain's name is skipped for its org domain's. */
	cr_expect_eq(d.stage, DMARC_ASK_ORG);
	cr_expect_eq(strncmp(dmarc_discover_query(&d), "_dmarc.", 7), 0);
	cr_expect_str_eq(dmarc_discover_query(&d) + 7, name + 192);
	orgdomain_free(od);
}

#define PASS DMARC_ID_PASS
#define FAIL DMARC_ID_FAIL
#define TEMP DMARC_ID_TEMPERROR

/* The verdicts: a record at the author domain (or, at_org, at
 * example.test for a subdomain author), the SPF identity and up to two
 * signatures, the random number, and what comes out. */
static const struct {
	const char *from, *record;
	bool at_org;
	struct dmarc_id spf, dkim[2];
	unsigned rand;
	enum dmarc_result res;
	bool spf_al, dkim_al;
	enum dmarc_policy policy, applied;
} verdicts[] = {
	/* D-01: DKIM pass for the author domain. */
	{ "example.test", "v=DMARC1; p=reject", false, { NULL, FAIL },
	  { { "example.test", PASS } }, 0, DMARC_PASS, 0, 1, REJ, N_ONE },
	/* D-02: a subdomain's signature, relaxed and strict. */
	{ "example.test", "v=DMARC1; p=reject", false, { NULL, FAIL },
	  { { "mail.example.test", PASS } }, 0, DMARC_PASS, 0, 1, REJ, N_ONE },
	{ "example.test", "v=DMARC1; p=reject; adkim=s", false, { NULL, FAIL },
	  { { "mail.example.test", PASS } }, 0, DMARC_FAIL, 0, 0, REJ, REJ },
	{ "example.test", "v=DMARC1; p=reject; adkim=s", false,
	  { "example.test", PASS }, { { "mail.example.test", PASS } }, 0,
	  DMARC_PASS, 1, 0, REJ, N_ONE },
	/* D-03: SPF for a bounce subdomain, relaxed and strict. */
	{ "example.test", "v=DMARC1; p=quarantine", false,
	  { "bounce.example.test", PASS }, { { NULL, FAIL } }, 0, DMARC_PASS, 1,
	  0, QUA, N_ONE },
	{ "example.test", "v=DMARC1; p=quarantine; aspf=s", false,
	  { "bounce.example.test", PASS }, { { NULL, FAIL } }, 0, DMARC_FAIL, 0,
	  0, QUA, QUA },
	/* Passes for other domains do not help. */
	{ "example.test", "v=DMARC1; p=reject", false, { "other.test", PASS },
	  { { "other.test", PASS }, { "example.test", FAIL } }, 99, DMARC_FAIL,
	  0, 0, REJ, REJ },
	/* The second signature aligns. */
	{ "example.test", "v=DMARC1; p=reject", false, { "other.test", PASS },
	  { { "other.test", PASS }, { "EXAMPLE.test", PASS } }, 0, DMARC_PASS,
	  0, 1, REJ, N_ONE },
	/* D-04: the org domain's record for a subdomain author: sp=. */
	{ "sub.example.test", "v=DMARC1; p=none; sp=reject", true,
	  { NULL, FAIL }, { { NULL, FAIL } }, 0, DMARC_FAIL, 0, 0, REJ, REJ },
	{ "sub.example.test", "v=DMARC1; p=quarantine", true, { NULL, FAIL },
	  { { NULL, FAIL } }, 0, DMARC_FAIL, 0, 0, QUA, QUA },
	/* The subdomain's own record: its p=, never sp=. */
	{ "sub.example.test", "v=DMARC1; p=none; sp=reject", false,
	  { NULL, FAIL }, { { NULL, FAIL } }, 0, DMARC_FAIL, 0, 0, N_ONE, N_ONE },
	/* Relaxed alignment for the subdomain author. */
	{ "sub.example.test", "v=DMARC1; p=reject", true,
	  { "example.test", PASS }, { { NULL, FAIL } }, 0, DMARC_PASS, 1, 0, REJ,
	  N_ONE },
	/* D-06 and pct: selected below pct, else one step weaker. */
	{ "example.test", "v=DMARC1; p=reject; pct=0", false, { NULL, FAIL },
	  { { NULL, FAIL } }, 0, DMARC_FAIL, 0, 0, REJ, QUA },
	{ "example.test", "v=DMARC1; p=reject; pct=50", false, { NULL, FAIL },
	  { { NULL, FAIL } }, 49, DMARC_FAIL, 0, 0, REJ, REJ },
	{ "example.test", "v=DMARC1; p=reject; pct=50", false, { NULL, FAIL },
	  { { NULL, FAIL } }, 50, DMARC_FAIL, 0, 0, REJ, QUA },
	{ "example.test", "v=DMARC1; p=quarantine; pct=10", false,
	  { NULL, FAIL }, { { NULL, FAIL } }, 10, DMARC_FAIL, 0, 0, QUA, N_ONE },
	{ "example.test", "v=DMARC1; p=reject", false, { NULL, FAIL },
	  { { NULL, FAIL } }, 99, DMARC_FAIL, 0, 0, REJ, REJ },
	/* D-09: an aligned temporary error and no pass. */
	{ "example.test", "v=DMARC1; p=reject", false, { "example.test", TEMP },
	  { { NULL, FAIL } }, 0, DMARC_TEMPERROR, 0, 0, REJ, N_ONE },
	{ "example.test", "v=DMARC1; p=reject", false, { "other.test", TEMP },
	  { { NULL, FAIL } }, 0, DMARC_FAIL, 0, 0, REJ, REJ },
	{ "example.test", "v=DMARC1; p=reject", false, { "example.test", TEMP },
	  { { "example.test", PASS } }, 0, DMARC_PASS, 0, 1, REJ, N_ONE },
	/* D-11: the PSL decides relaxed alignment. */
	{ "x.example.co.uk", "v=DMARC1; p=reject", false, { NULL, FAIL },
	  { { "example.co.uk", PASS } }, 0, DMARC_PASS, 0, 1, REJ, N_ONE },
	{ "example.co.uk", "v=DMARC1; p=reject", false, { NULL, FAIL },
	  { { "other.co.uk", PASS } }, 0, DMARC_FAIL, 0, 0, REJ, REJ },
	{ "example.co.uk", "v=DMARC1; p=reject", false, { NULL, FAIL },
	  { { "co.uk", PASS } }, 0, DMARC_FAIL, 0, 0, REJ, REJ },
};

Test(dmarc_verdict, table)
{
	struct orgdomain *od = load();

	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++) {
		struct step steps[3] = { { NULL } };
		struct dmarc_discover d;
		struct dmarc_ids ids = { .dkim = verdicts[i].dkim, .n_dkim = 2 };
		struct dmarc_verdict v;
		char qname[300];

		snprintf(qname, sizeof(qname), "_dmarc.%s", verdicts[i].from);
		steps[0] = (struct step){ qname, DNS_OK, { verdicts[i].record } };
		if (verdicts[i].at_org) {
			steps[0].st = DNS_NXDOMAIN;
			steps[1] = (struct step){ "_dmarc.example.test", DNS_OK,
						  { verdicts[i].record } };
		}
		if (verdicts[i].spf.domain != NULL)
			ids.spf = &verdicts[i].spf;
		run(od, &d, verdicts[i].from, steps, i);
		cr_assert_eq(d.found, DMARC_FOUND_RECORD, "row %zu", i);
		dmarc_verdict(od, &d, &ids, verdicts[i].rand, &v);
		cr_expect_eq(v.result, verdicts[i].res, "row %zu: %s", i,
			     dmarc_result_str(v.result));
		cr_expect_eq(v.spf_aligned, verdicts[i].spf_al, "row %zu spf", i);
		cr_expect_eq(v.dkim_aligned, verdicts[i].dkim_al, "row %zu dkim", i);
		cr_expect_eq(v.policy, verdicts[i].policy, "row %zu policy", i);
		cr_expect_eq(v.applied, verdicts[i].applied, "row %zu applied", i);
	}
	orgdomain_free(od);
}

Test(dmarc_verdict, without_a_record)
{
	static const struct {
		enum dns_status st;
		enum dmarc_result res;
	} rows[] = {
		{ DNS_NXDOMAIN, DMARC_NONE },
		{ DNS_TEMPFAIL, DMARC_TEMPERROR },
	};
	struct orgdomain *od = load();
	struct dmarc_id pass = { "example.test", PASS };
	struct dmarc_ids ids = { .dkim = &pass, .n_dkim = 1 };
	struct dmarc_discover d;
	struct dmarc_verdict v;

	for (size_t i = 0; i < 2; i++) {
		dmarc_discover_start(&d, od, "example.test");
		dmarc_discover_answer(&d, rows[i].st, NULL, 0);
		dmarc_verdict(od, &d, &ids, 0, &v);
		cr_expect_eq(v.result, rows[i].res, "row %zu", i);
		cr_expect_eq(v.applied, N_ONE, "row %zu", i);
	}
	dmarc_discover_start(&d, od, "not a domain");
	dmarc_verdict(od, &d, &ids, 0, &v);
	cr_expect_eq(v.result, DMARC_PERMERROR);
	cr_expect_str_eq(dmarc_result_str(v.result), "permerror");
	orgdomain_free(od);
}
