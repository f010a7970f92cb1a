/* tests/test_tlspolicy.c: the TLS decision of an attempt to an MX host
 * (outbound/tlspolicy.h): TLSA answers to DANE states, whether to look
 * TLSA up, and the table of outbound_tls and DANE state to the client's
 * mode, records and names (T-DANE-02/03/06/07/13/16), the policy a TLS
 * report files an attempt under and the RFC 8460 result types
 * (outbound/tlsrpt.h). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <string.h>

#include "outbound/tlspolicy.h"
#include "outbound/tlsrpt.h"

#include <openssl/x509_vfy.h>

static uint8_t digest[32] = { 0x8d, 0x02 };

struct state_row {
	enum dns_status status;
	enum dns_security security;
	uint8_t usage, selector, mtype;
	size_t len;
	enum tlsp_dane want;
};

static const struct state_row state_rows[] = {
	{ DNS_OK, DNS_SECURE, 3, 1, 1, 32, TLSP_DANE_USABLE },
	{ DNS_OK, DNS_SECURE, 2, 0, 2, 64, TLSP_DANE_USABLE },
	{ DNS_OK, DNS_SECURE, 3, 0, 0, 10, TLSP_DANE_USABLE },
	/* T-DANE-13: PKIX usages are unusable for SMTP. */
	{ DNS_OK, DNS_SECURE, 1, 1, 1, 32, TLSP_DANE_UNUSABLE },
	{ DNS_OK, DNS_SECURE, 0, 1, 1, 32, TLSP_DANE_UNUSABLE },
	/* Unknown selector or matching type; a digest of the wrong length. */
	{ DNS_OK, DNS_SECURE, 3, 2, 1, 32, TLSP_DANE_UNUSABLE },
	{ DNS_OK, DNS_SECURE, 3, 1, 3, 32, TLSP_DANE_UNUSABLE },
	{ DNS_OK, DNS_SECURE, 3, 1, 1, 20, TLSP_DANE_UNUSABLE },
	/* T-DANE-02: insecure records are no DANE. */
	{ DNS_OK, DNS_INSECURE, 3, 1, 1, 32, TLSP_DANE_NONE },
	/* T-DANE-06: denial. */
	{ DNS_NODATA, DNS_SECURE, 0, 0, 0, 0, TLSP_DANE_NONE },
	{ DNS_NXDOMAIN, DNS_SECURE, 0, 0, 0, 0, TLSP_DANE_NONE },
	/* T-DANE-03: never a downgrade because the lookup failed. */
	{ DNS_BOGUS, DNS_INSECURE, 0, 0, 0, 0, TLSP_DANE_UNKNOWN },
	{ DNS_TEMPFAIL, DNS_INSECURE, 0, 0, 0, 0, TLSP_DANE_UNKNOWN },
};

Test(tlspolicy, dane_state_of_the_tlsa_answer)
{
	for (size_t i = 0; i < sizeof(state_rows) / sizeof(state_rows[0]); i++) {
		const struct state_row *r = &state_rows[i];
		uint8_t data[64] = { 0 };
		struct dns_tlsa rr = { .usage = r->usage, .selector = r->selector,
				       .mtype = r->mtype, .len = r->len,
				       .data = data };
		struct dns_answer a = { .status = r->status,
					.security = r->security,
					.type = DNS_T_TLSA,
					.n = r->status == DNS_OK ? 1 : 0,
					.tlsa = &rr };

		cr_assert_eq(tlsp_dane_of(&a), r->want, "row %zu", i);
	}
}

Test(tlspolicy, tlsa_looked_up_only_for_secure_dane)
{
	cr_assert(tlsp_wants_tlsa(CONFIG_OUTBOUND_TLS_DANE, true, true));
	cr_assert_not(tlsp_wants_tlsa(CONFIG_OUTBOUND_TLS_DANE, false, true));
	cr_assert_not(tlsp_wants_tlsa(CONFIG_OUTBOUND_TLS_DANE, true, false));
	cr_assert_not(tlsp_wants_tlsa(CONFIG_OUTBOUND_TLS_OPPORTUNISTIC, true,
				      true));
	cr_assert_not(tlsp_wants_tlsa(CONFIG_OUTBOUND_TLS_REQUIRED, true, true));
}

struct decide_row {
	enum config_outbound_tls mode;
	bool lookup;           /* a host with this state, else NULL */
	enum tlsp_dane dane;
	const char *mx, *domain;
	bool use;
	enum smtpc_tls tls;
	const char *name;
	size_t n_names;        /* DANE: names besides the base */
};

static const struct decide_row decide_rows[] = {
	{ CONFIG_OUTBOUND_TLS_NONE, false, 0, "mx.dane.test", "dane.test",
	  true, SMTPC_TLS_NONE, "none", 0 },
	{ CONFIG_OUTBOUND_TLS_REQUIRED, false, 0, "mx.dane.test", "dane.test",
	  true, SMTPC_TLS_REQUIRED, "required", 0 },
	{ CONFIG_OUTBOUND_TLS_OPPORTUNISTIC, false, 0, "mx.dane.test",
	  "dane.test", true, SMTPC_TLS_OPPORTUNISTIC, "opportunistic", 0 },
	/* No lookup (insecure MX or addresses), or no DANE. */
	{ CONFIG_OUTBOUND_TLS_DANE, false, 0, "mx.dane.test", "dane.test",
	  true, SMTPC_TLS_OPPORTUNISTIC, "opportunistic", 0 },
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_NONE, "mx.dane.test",
	  "dane.test", true, SMTPC_TLS_OPPORTUNISTIC, "opportunistic", 0 },
	/* The base is the MX name: the domain is the other name. */
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_USABLE, "mx.dane.test",
	  "dane.test", true, SMTPC_TLS_DANE, "dane", 1 },
	/* The implicit MX: the domain is the MX name and the base. */
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_USABLE, "dane.test",
	  "dane.test", true, SMTPC_TLS_DANE, "dane", 0 },
	/* T-DANE-07: TLS without authentication. */
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_UNUSABLE, "mx.dane.test",
	  "dane.test", true, SMTPC_TLS_ENCRYPT, "dane-unusable", 0 },
	/* T-DANE-03: the host is not used. */
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_UNKNOWN, "mx.dane.test",
	  "dane.test", false, SMTPC_TLS_DANE, "dane", 0 },
	/* outbound_tls other than dane ignores what the lookup said. */
	{ CONFIG_OUTBOUND_TLS_NONE, true, TLSP_DANE_USABLE, "mx.dane.test",
	  "dane.test", true, SMTPC_TLS_NONE, "none", 0 },
};

Test(tlspolicy, decisions)
{
	struct tls_tlsa rr = { 3, 1, 1, 32, digest };

	for (size_t i = 0; i < sizeof(decide_rows) / sizeof(decide_rows[0]); i++) {
		const struct decide_row *r = &decide_rows[i];
		struct tlsp_host h = { .dane = r->dane, .rrs = &rr, .n_rrs = 1 };
		struct tlsp_in in = { .mode = r->mode,
				      .host = r->lookup ? &h : NULL,
				      .mx_name = r->mx, .domain = r->domain };
		struct tlsp_out out;

		strcpy(h.base, r->mx);
		strcpy(h.why, "TLSA lookup failed: BOGUS");
		tlsp_decide(&in, &out);
		cr_assert_eq(out.use, r->use, "row %zu", i);
		cr_assert_eq(out.tls, r->tls, "row %zu", i);
		cr_assert_str_eq(out.mode_name, r->name, "row %zu", i);
		if (!r->use)
			cr_assert_str_eq(out.why, h.why);
		if (r->tls != SMTPC_TLS_DANE || !r->use)
			continue;
		cr_assert_str_eq(out.base, r->mx, "row %zu", i);
		cr_assert_eq(out.n_rrs, 1);
		cr_assert_eq(out.n_names, r->n_names, "row %zu", i);
		if (r->n_names == 1)
			cr_assert_str_eq(out.names[0], "dane.test");
	}
}

/* MTA-STS after DANE (T-STS-14): enforce is verified STARTTLS unless the
 * host has a DANE state; testing names the opportunistic choice. */
struct sts_row {
	enum config_outbound_tls mode;
	bool lookup;
	enum tlsp_dane dane;
	enum tlsp_sts sts;
	bool use;
	enum smtpc_tls tls;
	const char *name;
};

static const struct sts_row sts_rows[] = {
	{ CONFIG_OUTBOUND_TLS_DANE, false, 0, TLSP_STS_ENFORCE, true,
	  SMTPC_TLS_REQUIRED, "mta-sts-enforce" },
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_NONE, TLSP_STS_ENFORCE,
	  true, SMTPC_TLS_REQUIRED, "mta-sts-enforce" },
	{ CONFIG_OUTBOUND_TLS_OPPORTUNISTIC, false, 0, TLSP_STS_ENFORCE, true,
	  SMTPC_TLS_REQUIRED, "mta-sts-enforce" },
	{ CONFIG_OUTBOUND_TLS_NONE, false, 0, TLSP_STS_ENFORCE, true,
	  SMTPC_TLS_REQUIRED, "mta-sts-enforce" },
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_USABLE, TLSP_STS_ENFORCE,
	  true, SMTPC_TLS_DANE, "dane" },
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_UNUSABLE, TLSP_STS_ENFORCE,
	  true, SMTPC_TLS_ENCRYPT, "dane-unusable" },
	{ CONFIG_OUTBOUND_TLS_DANE, true, TLSP_DANE_UNKNOWN, TLSP_STS_ENFORCE,
	  false, SMTPC_TLS_DANE, "dane" },
	{ CONFIG_OUTBOUND_TLS_DANE, false, 0, TLSP_STS_TESTING, true,
	  SMTPC_TLS_OPPORTUNISTIC, "mta-sts-testing" },
	{ CONFIG_OUTBOUND_TLS_REQUIRED, false, 0, TLSP_STS_TESTING, true,
	  SMTPC_TLS_REQUIRED, "required" },
	{ CONFIG_OUTBOUND_TLS_NONE, false, 0, TLSP_STS_TESTING, true,
	  SMTPC_TLS_NONE, "none" },
};

Test(tlspolicy, mta_sts_decisions)
{
	struct tls_tlsa rr = { 3, 1, 1, 32, digest };

	for (size_t i = 0; i < sizeof(sts_rows) / sizeof(sts_rows[0]); i++) {
		const struct sts_row *r = &sts_rows[i];
		struct tlsp_host h = { .dane = r->dane, .rrs = &rr, .n_rrs = 1,
				       .base = "mx.sts.test" };
		struct tlsp_in in = { .mode = r->mode,
				      .host = r->lookup ? &h : NULL,
				      .mx_name = "mx.sts.test",
				      .domain = "sts.test", .sts = r->sts };
		struct tlsp_out out;

		tlsp_decide(&in, &out);
		cr_assert_eq(out.use, r->use, "row %zu", i);
		cr_assert_eq(out.tls, r->tls, "row %zu", i);
		cr_assert_str_eq(out.mode_name, r->name, "row %zu", i);
	}
}

/* T-DANE-05: the base is the CNAME-expanded name; the MX name and the
 * domain are the other names a DANE-TA leaf may carry. */
Test(tlspolicy, cname_expanded_base)
{
	struct tls_tlsa rr = { 2, 0, 1, 32, digest };
	struct tlsp_host h = { .dane = TLSP_DANE_USABLE,
			       .base = "host.provider.test", .rrs = &rr,
			       .n_rrs = 1 };
	struct tlsp_in in = { .mode = CONFIG_OUTBOUND_TLS_DANE, .host = &h,
			      .mx_name = "mx.dane.test", .domain = "dane.test" };
	struct tlsp_out out;

	tlsp_decide(&in, &out);
	cr_assert_str_eq(out.base, "host.provider.test");
	cr_assert_eq(out.n_names, 2);
	cr_assert_str_eq(out.names[0], "mx.dane.test");
	cr_assert_str_eq(out.names[1], "dane.test");
}

Test(tlspolicy, target_copy_and_compare)
{
	struct tls_tlsa rr = { 3, 1, 1, 32, digest }, other = rr;
	uint8_t d2[32] = { 1 };
	struct tlsp_host h = { .dane = TLSP_DANE_USABLE, .base = "mx.dane.test",
			       .rrs = &rr, .n_rrs = 1 };
	struct tlsp_in in = { .mode = CONFIG_OUTBOUND_TLS_DANE, .host = &h,
			      .mx_name = "mx.dane.test", .domain = "dane.test" };
	struct tlsp_out out;
	struct tlsp_target t;

	tlsp_decide(&in, &out);
	cr_assert_eq(tlsp_target_copy(&t, &out), 0);
	cr_assert(tlsp_target_same(&t, &out));
	cr_assert_neq(t.rrs[0].data, digest, "the data is copied");
	/* Another domain's names or other records: another target. */
	in.domain = "other.test";
	tlsp_decide(&in, &out);
	cr_assert_not(tlsp_target_same(&t, &out));
	other.data = d2;
	h.rrs = &other;
	in.domain = "dane.test";
	tlsp_decide(&in, &out);
	cr_assert_not(tlsp_target_same(&t, &out));
	tlsp_target_free(&t);
}

struct report_row {
	enum config_outbound_tls mode;
	enum tlsp_dane dane;        /* TLSP_DANE_NONE: no host */
	enum tlsp_sts sts;
	const char *name;
	enum tlsrpt_policy report;
	bool check;
};

static const struct report_row report_rows[] = {
	{ CONFIG_OUTBOUND_TLS_DANE, TLSP_DANE_NONE, TLSP_STS_NONE,
	  "opportunistic", TLSRPT_POLICY_NONE, false },
	{ CONFIG_OUTBOUND_TLS_DANE, TLSP_DANE_USABLE, TLSP_STS_NONE, "dane",
	  TLSRPT_POLICY_TLSA, false },
	{ CONFIG_OUTBOUND_TLS_DANE, TLSP_DANE_UNUSABLE, TLSP_STS_NONE,
	  "dane-unusable", TLSRPT_POLICY_TLSA, false },
	{ CONFIG_OUTBOUND_TLS_DANE, TLSP_DANE_UNKNOWN, TLSP_STS_NONE, "dane",
	  TLSRPT_POLICY_TLSA, false },
	/* T-STS-14: DANE decides over MTA-STS, and is what is reported. */
	{ CONFIG_OUTBOUND_TLS_DANE, TLSP_DANE_USABLE, TLSP_STS_ENFORCE, "dane",
	  TLSRPT_POLICY_TLSA, false },
	{ CONFIG_OUTBOUND_TLS_DANE, TLSP_DANE_NONE, TLSP_STS_ENFORCE,
	  "mta-sts-enforce", TLSRPT_POLICY_STS, false },
	/* T-STS-10: testing checks the certificate without enforcing it. */
	{ CONFIG_OUTBOUND_TLS_DANE, TLSP_DANE_NONE, TLSP_STS_TESTING,
	  "mta-sts-testing", TLSRPT_POLICY_STS, true },
	{ CONFIG_OUTBOUND_TLS_REQUIRED, TLSP_DANE_NONE, TLSP_STS_TESTING,
	  "required", TLSRPT_POLICY_STS, false },
};

Test(tlspolicy, report_policy_and_check)
{
	struct tls_tlsa rr = { 3, 1, 1, 32, digest };

	for (size_t i = 0; i < sizeof(report_rows) / sizeof(report_rows[0]); i++) {
		const struct report_row *r = &report_rows[i];
		struct tlsp_host h = { .dane = r->dane, .base = "mx.sts.test",
				       .rrs = &rr, .n_rrs = 1 };
		struct tlsp_in in = { .mode = r->mode, .host = &h,
				      .mx_name = "mx.sts.test",
				      .domain = "sts.test", .sts = r->sts };
		struct tlsp_out out;

		tlsp_decide(&in, &out);
		cr_assert_str_eq(out.mode_name, r->name, "row %zu", i);
		cr_assert_eq(out.report, r->report, "row %zu", i);
		cr_assert_eq(out.check, r->check, "row %zu", i);
	}
}

struct result_row {
	enum tlsrpt_policy p;
	bool unusable, mx_ok;
	enum smtpc_tlso o;
	long verify;
	const char *want;         /* NULL: nothing to report */
};

static const struct result_row result_rows[] = {
	{ TLSRPT_POLICY_NONE, false, true, SMTPC_TLSO_CERT, 18, NULL },
	{ TLSRPT_POLICY_STS, false, true, SMTPC_TLSO_NONE, -1, NULL },
	{ TLSRPT_POLICY_STS, false, true, SMTPC_TLSO_VERIFIED, X509_V_OK,
	  "success" },
	{ TLSRPT_POLICY_TLSA, false, true, SMTPC_TLSO_VERIFIED, X509_V_OK,
	  "success" },
	{ TLSRPT_POLICY_STS, false, false, SMTPC_TLSO_VERIFIED, X509_V_OK,
	  "certificate-host-mismatch" },
	{ TLSRPT_POLICY_STS, false, true, SMTPC_TLSO_NOT_OFFERED, -1,
	  "starttls-not-supported" },
	{ TLSRPT_POLICY_STS, false, true, SMTPC_TLSO_CERT,
	  X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "certificate-not-trusted" },
	{ TLSRPT_POLICY_STS, false, true, SMTPC_TLSO_CERT,
	  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
	  "certificate-not-trusted" },
	{ TLSRPT_POLICY_STS, false, true, SMTPC_TLSO_CERT,
	  X509_V_ERR_CERT_HAS_EXPIRED, "certificate-expired" },
	{ TLSRPT_POLICY_STS, false, true, SMTPC_TLSO_CERT,
	  X509_V_ERR_HOSTNAME_MISMATCH, "certificate-host-mismatch" },
	{ TLSRPT_POLICY_TLSA, false, true, SMTPC_TLSO_CERT,
	  X509_V_ERR_DANE_NO_MATCH, "tlsa-invalid" },
	{ TLSRPT_POLICY_TLSA, false, true, SMTPC_TLSO_CERT,
	  X509_V_ERR_CERT_SIGNATURE_FAILURE, "validation-failure" },
	{ TLSRPT_POLICY_TLSA, false, true, SMTPC_TLSO_HANDSHAKE, X509_V_OK,
	  "validation-failure" },
	/* T-DANE-07: only unusable records, TLS without authentication. */
	{ TLSRPT_POLICY_TLSA, true, true, SMTPC_TLSO_UNVERIFIED, -1,
	  "tlsa-invalid" },
	{ TLSRPT_POLICY_STS, false, true, SMTPC_TLSO_UNVERIFIED, -1, NULL },
};

Test(tlsrpt, session_results)
{
	for (size_t i = 0; i < sizeof(result_rows) / sizeof(result_rows[0]); i++) {
		const struct result_row *r = &result_rows[i];
		const char *got = tlsrpt_session(r->p, r->unusable, r->mx_ok, r->o,
						 r->verify);

		if (r->want == NULL)
			cr_expect_null(got, "row %zu", i);
		else
			cr_expect(got != NULL && strcmp(got, r->want) == 0,
				  "row %zu: %s", i, got != NULL ? got : "NULL");
	}
	cr_expect_str_eq(tlsrpt_policy_name(TLSRPT_POLICY_TLSA), "tlsa");
	cr_expect_str_eq(tlsrpt_policy_name(TLSRPT_POLICY_STS), "sts");
	cr_expect_null(tlsrpt_policy_name(TLSRPT_POLICY_NONE));
	cr_expect_str_eq(tlsrpt_tlsa_failed(), "dnssec-invalid");
	cr_expect_str_eq(tlsrpt_sts_fetch(true, false), "sts-policy-invalid");
	cr_expect_str_eq(tlsrpt_sts_fetch(false, true), "sts-webpki-invalid");
	cr_expect_str_eq(tlsrpt_sts_fetch(false, false), "sts-policy-fetch-error");
}
