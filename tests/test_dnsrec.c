/* tests/test_dnsrec.c: the records of `kantorpos dns` (admin/dnsrec.c)
 * built from configurations, their zone-file text, and the comparison
 * of answers with them (admin/dnsrec_cmp.c): tables of input and the
 * expected output (tests/e2e_dnscmd.py: the real command against nsd). */
#include "autoconf.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/dnsrec.h"
#include "common/config/config.h"
#include "common/config/config_load.h"

#define BASE "hostname mail.good.test\ndata_dir /d\nuser_db /d/users\n" \
	"local_domain good.test\ntls_cert /c.pem\ntls_key /k.pem\n"

static struct config *conf(const char *text)
{
	char *err = NULL;
	struct config *cfg = config_parse("t.conf", "/", text, strlen(text), &err);

	cr_assert_not_null(cfg, "%s: %s", text, err ? err : "?");
	return cfg;
}

/* "LABEL OWNER VALUE" per record ("-" for no value), one a line. */
static void summary(const struct dnsrec_set *s, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		size_t o = strlen(out);

		snprintf(out + o, len - o, "%s %s %s%s\n", dnsrec_label(&s->r[i]),
			 s->r[i].owner, s->r[i].value[0] ? s->r[i].value : "-",
			 s->r[i].commented ? " (commented)" : "");
	}
}

static const uint8_t spki[32] = { 0xab, 0xcd, [31] = 0x01 };

#define TLSA_VALUE "3 1 1 abcd" \
	"000000000000000000000000000000000000000000000000000000000001"

static const struct build_row {
	const char *what, *conf;
	bool cert;
	const char *want;
} build_rows[] = {
	{ "every listener, a relayhost by name, a certificate",
	  BASE "listen smtp 192.0.2.10:25\n"
	  "listen smtp [2001:db8::10]:587 submission\n"
	  "listen smtp 192.0.2.10:465 submissions\n"
	  "listen smtp 192.0.2.10:2465 submission tls\n"
	  "listen pop3 192.0.2.10:110\nlisten pop3 [2001:db8::10]:995 tls\n"
	  "listen smtp 127.0.0.1:2587 submission\n"
	  "listen smtp 192.0.2.11:587 submission\n"
	  "relayhost smtp.eu.provider.example:587\n", true,
	  "MX good.test 10 mail.good.test.\n"
	  "A mail.good.test 192.0.2.10\n"
	  "AAAA mail.good.test 2001:db8::10\n"
	  "A mail.good.test 192.0.2.11\n"
	  "SPF good.test \"v=spf1 mx include:eu.provider.example -all\"\n"
	  "NOTE good.test -\n"
	  "DMARC _dmarc.good.test \"v=DMARC1; p=quarantine; "
	  "rua=mailto:postmaster@good.test\"\n"
	  "MTA-STS _mta-sts.good.test \"v=STSv1; id=19700101000000\"\n"
	  "TLS-RPT _smtp._tls.good.test \"v=TLSRPTv1; "
	  "rua=mailto:postmaster@good.test\"\n"
	  "SRV _submission._tcp.good.test 10 1 587 mail.good.test.\n"
	  "SRV _submissions._tcp.good.test 0 1 465 mail.good.test.\n"
	  "SRV _submissions._tcp.good.test 0 1 2465 mail.good.test.\n"
	  "SRV _pop3._tcp.good.test 10 1 110 mail.good.test.\n"
	  "SRV _pop3s._tcp.good.test 0 1 995 mail.good.test.\n"
	  "PTR 10.2.0.192.in-addr.arpa mail.good.test. (commented)\n"
	  "PTR 0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	  "ip6.arpa mail.good.test. (commented)\n"
	  "PTR 11.2.0.192.in-addr.arpa mail.good.test. (commented)\n"
	  "TLSA _25._tcp.mail.good.test " TLSA_VALUE "\n" },
	{ "only *:25, no certificate, no relayhost",
	  BASE "listen smtp *:25\n", false,
	  "MX good.test 10 mail.good.test.\n"
	  "A/AAAA mail.good.test -\n"
	  "SPF good.test \"v=spf1 mx -all\"\n"
	  "NOTE good.test -\n"
	  "DMARC _dmarc.good.test \"v=DMARC1; p=quarantine; "
	  "rua=mailto:postmaster@good.test\"\n"
	  "MTA-STS _mta-sts.good.test \"v=STSv1; id=19700101000000\"\n"
	  "TLS-RPT _smtp._tls.good.test \"v=TLSRPTv1; "
	  "rua=mailto:postmaster@good.test\"\n"
	  "NOTE mail.good.test -\n"
	  "NOTE _25._tcp.mail.good.test -\n" },
	{ "loopback and link-local listeners, a relayhost by address",
	  BASE "listen smtp 127.0.0.1:25\nlisten smtp [::1]:587 submission\n"
	  "listen pop3 [fe80::1]:995 tls\nlisten smtp 0.0.0.0:26\n"
	  "relayhost [2001:db8::25]:587\n", false,
	  "MX good.test 10 mail.good.test.\n"
	  "A/AAAA mail.good.test -\n"
	  "SPF good.test \"v=spf1 mx ip6:2001:db8::25 -all\"\n"
	  "NOTE good.test -\n"
	  "DMARC _dmarc.good.test \"v=DMARC1; p=quarantine; "
	  "rua=mailto:postmaster@good.test\"\n"
	  "MTA-STS _mta-sts.good.test \"v=STSv1; id=19700101000000\"\n"
	  "TLS-RPT _smtp._tls.good.test \"v=TLSRPTv1; "
	  "rua=mailto:postmaster@good.test\"\n"
	  "NOTE mail.good.test -\n"
	  "NOTE _25._tcp.mail.good.test -\n" },
	{ "a listener by name: SRV, no address",
	  BASE "listen smtp mail.good.test:587 submission\n"
	  "relayhost 192.0.2.25\n", false,
	  "MX good.test 10 mail.good.test.\n"
	  "A/AAAA mail.good.test -\n"
	  "SPF good.test \"v=spf1 mx ip4:192.0.2.25 -all\"\n"
	  "NOTE good.test -\n"
	  "DMARC _dmarc.good.test \"v=DMARC1; p=quarantine; "
	  "rua=mailto:postmaster@good.test\"\n"
	  "MTA-STS _mta-sts.good.test \"v=STSv1; id=19700101000000\"\n"
	  "TLS-RPT _smtp._tls.good.test \"v=TLSRPTv1; "
	  "rua=mailto:postmaster@good.test\"\n"
	  "SRV _submission._tcp.good.test 10 1 587 mail.good.test.\n"
	  "NOTE mail.good.test -\n"
	  "NOTE _25._tcp.mail.good.test -\n" },
};

Test(dnsrec, build)
{
	static struct dnsrec_set set;
	static char got[16384];

	for (size_t i = 0; i < sizeof(build_rows) / sizeof(build_rows[0]); i++) {
		const struct build_row *r = &build_rows[i];
		struct config *cfg = conf(r->conf);
		struct dnsrec_env env = { .cfg = cfg, .domain = "good.test",
					  .spki_sha256 = r->cert ? spki : NULL };
		const char *why = NULL;

		cr_assert_eq(dnsrec_build(&env, &set, &why), 0, "%s: %s", r->what,
			     why);
		summary(&set, got, sizeof(got));
		cr_expect_str_eq(got, r->want, "%s", r->what);
		config_free(cfg);
	}
}

/* DKIM keys: one record each at SELECTOR._domainkey, long ones in strings
 * of 255 octets. */
Test(dnsrec, dkim_records)
{
	static struct dnsrec_set set;
	static char text[8192], longkey[700];
	struct config *cfg = conf(BASE "listen smtp *:25\n");
	struct dnsrec_dkim keys[2] = { { "ed", "v=DKIM1; k=ed25519; p=abc" },
				       { "rsa", longkey } };
	struct dnsrec_env env = { .cfg = cfg, .domain = "good.test",
				  .dkim = keys, .n_dkim = 2 };
	const char *why;

	memset(longkey, 'k', sizeof(longkey) - 1);
	cr_assert_eq(dnsrec_build(&env, &set, &why), 0);
	cr_assert_eq(set.r[3].kind, DNSREC_DKIM);
	cr_expect_str_eq(set.r[3].owner, "ed._domainkey.good.test");
	cr_expect_str_eq(set.r[3].value, "\"v=DKIM1; k=ed25519; p=abc\"");
	cr_assert_eq(set.r[4].kind, DNSREC_DKIM);
	dnsrec_format(&set.r[4], text, sizeof(text));
	cr_expect(strstr(text, "rsa._domainkey.good.test. IN TXT \"") != NULL);
	cr_expect(strlen(set.r[4].value) == 699 + 3 * 2 + 2, "%zu",
		  strlen(set.r[4].value));
	cr_expect(strstr(set.r[4].value, "\" \"") == set.r[4].value + 256);
	cr_expect_str_eq(set.r[4].text, longkey);
	config_free(cfg);
}

Test(dnsrec, format)
{
	static struct dnsrec_set set;
	static char text[8192];
	struct config *cfg = conf(BASE "listen smtp 192.0.2.10:25\n");
	struct dnsrec_env env = { .cfg = cfg, .domain = "good.test" };
	const char *why;

	cr_assert_eq(dnsrec_build(&env, &set, &why), 0);
	dnsrec_format(&set.r[0], text, sizeof(text));
	cr_expect_str_eq(text, "; MX: mail for good.test goes to this host, "
			 "mail.good.test.\ngood.test. IN MX 10 mail.good.test.\n");
	for (size_t i = 0; i < set.n; i++) {
		dnsrec_format(&set.r[i], text, sizeof(text));
		for (char *l = strtok(text, "\n"); l != NULL; l = strtok(NULL, "\n"))
			cr_expect(l[0] == ';' ? strlen(l) <= 78 : strstr(l, ". IN ")
				  != NULL, "%s", l);
	}
	dnsrec_format(&set.r[set.n - 2], text, sizeof(text));
	cr_expect(strstr(text, ";   10.2.0.192.in-addr.arpa. IN PTR "
			 "mail.good.test.\n") != NULL, "%s", text);
	config_free(cfg);
}

Test(dnsrec, spf_include)
{
	static const struct { const char *host, *inc; } t[] = {
		{ "smtp.provider.example", "provider.example" },
		{ "a.b.c.example", "b.c.example" },
		{ "provider.example", "provider.example" },
		{ "relay", NULL },
		{ "192.0.2.1", NULL },
		{ "2001:db8::1", NULL },
	};
	char out[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = dnsrec_spf_include(t[i].host, out);

		cr_expect_eq(rc, t[i].inc != NULL, "%s", t[i].host);
		if (t[i].inc != NULL)
			cr_expect_str_eq(out, t[i].inc, "%s", t[i].host);
	}
}

/* ---- comparing ---- */

struct cmp_row {
	const char *what;
	enum dnsrec_kind kind;
	enum dns_status status;
	const char *records[3]; /* TXT texts, MX/SRV/PTR targets, ... */
	enum dnsrec_verdict v;
	const char *got;        /* NULL: "" */
};

#define ED_A "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define ED_B "v=DKIM1; k=ed25519; p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static const struct cmp_row cmp_rows[] = {
	{ "MX among others", DNSREC_MX, DNS_OK, { "backup.test", "MAIL.good.test" },
	  DNSREC_OK, NULL },
	{ "MX elsewhere", DNSREC_MX, DNS_OK, { "other.test" }, DNSREC_DIFFERS,
	  "got 10 other.test." },
	{ "null MX", DNSREC_MX, DNS_OK, { "" }, DNSREC_DIFFERS,
	  "got 0 . (the null MX: no mail at all)" },
	{ "no MX", DNSREC_MX, DNS_NODATA, { NULL }, DNSREC_MISSING, NULL },
	{ "no name", DNSREC_MX, DNS_NXDOMAIN, { NULL }, DNSREC_MISSING, NULL },
	{ "timeout", DNSREC_MX, DNS_TEMPFAIL, { NULL }, DNSREC_FAILED,
	  "no answer in time" },
	{ "bogus", DNSREC_MX, DNS_BOGUS, { NULL }, DNSREC_DIFFERS,
	  "DNSSEC validation failed: no answer in time" },
	{ "SPF", DNSREC_SPF, DNS_OK, { "google-site-verification=x",
	  "V=SPF1 a mx ip4:192.0.2.1 ~all" }, DNSREC_OK, NULL },
	{ "SPF absent among TXT", DNSREC_SPF, DNS_OK,
	  { "v=spf10 mx", "hello" }, DNSREC_MISSING, NULL },
	{ "two SPF", DNSREC_SPF, DNS_OK, { "v=spf1 mx -all", "v=spf1 -all" },
	  DNSREC_DIFFERS, "got \"v=spf1 mx -all\" \"v=spf1 -all\": 2 v=spf1 "
	  "records, there must be one" },
	{ "DMARC, tightened, blanks", DNSREC_DMARC, DNS_OK,
	  { "v=DMARC1 ; p = reject ; pct=100" }, DNSREC_OK, NULL },
	{ "DMARC without p", DNSREC_DMARC, DNS_OK, { "v=DMARC1; rua=mailto:a@b" },
	  DNSREC_DIFFERS, "got \"v=DMARC1; rua=mailto:a@b\": no p= tag" },
	{ "DMARC p=bogus", DNSREC_DMARC, DNS_OK, { "v=DMARC1; p=bogus" },
	  DNSREC_DIFFERS, "got \"v=DMARC1; p=bogus\": p= is not none, "
	  "quarantine or reject" },
	{ "DMARC not first", DNSREC_DMARC, DNS_OK, { "p=reject; v=DMARC1" },
	  DNSREC_MISSING, NULL },
	{ "TLS-RPT https", DNSREC_TLSRPT, DNS_OK,
	  { "v=TLSRPTv1;rua=https://r.example/tls" }, DNSREC_OK, NULL },
	{ "TLS-RPT without rua", DNSREC_TLSRPT, DNS_OK, { "v=TLSRPTv1;" },
	  DNSREC_DIFFERS, "got \"v=TLSRPTv1;\": no rua= tag" },
	{ "TLS-RPT ftp", DNSREC_TLSRPT, DNS_OK, { "v=TLSRPTv1; rua=ftp://x" },
	  DNSREC_DIFFERS, "got \"v=TLSRPTv1; rua=ftp://x\": rua= is not a "
	  "mailto: or https: URI" },
	{ "MTA-STS, another id", DNSREC_MTASTS, DNS_OK, { "v=STSv1; id=abc123" },
	  DNSREC_OK, NULL },
	{ "MTA-STS, bad id", DNSREC_MTASTS, DNS_OK, { "v=STSv1; id=a-b" },
	  DNSREC_DIFFERS, NULL },
	{ "SRV", DNSREC_SRV, DNS_OK, { "other.test", "mail.good.test" },
	  DNSREC_OK, NULL },
	{ "SRV elsewhere", DNSREC_SRV, DNS_OK, { "other.test" }, DNSREC_DIFFERS,
	  "got 0 1 587 other.test." },
	{ "PTR", DNSREC_PTR, DNS_OK, { "mail.good.test" }, DNSREC_OK, NULL },
	{ "PTR elsewhere", DNSREC_PTR, DNS_OK, { "dsl-1.isp.example" },
	  DNSREC_DIFFERS, "got dsl-1.isp.example." },
	{ "A", DNSREC_ADDR, DNS_OK, { "192.0.2.9", "192.0.2.10" }, DNSREC_OK,
	  NULL },
	{ "A elsewhere", DNSREC_ADDR, DNS_OK, { "192.0.2.9" }, DNSREC_DIFFERS,
	  "got 192.0.2.9" },
	{ "an address", DNSREC_ADDR_ANY, DNS_OK, { "192.0.2.9" }, DNSREC_OK, NULL },
	{ "no address", DNSREC_ADDR_ANY, DNS_NODATA, { NULL }, DNSREC_MISSING,
	  NULL },
	{ "TLSA among others", DNSREC_TLSA, DNS_OK, { "1", "0" }, DNSREC_OK, NULL },
	{ "TLSA of another key", DNSREC_TLSA, DNS_OK, { "1" }, DNSREC_DIFFERS,
	  "got 3 1 1 ffff" },
	{ "DKIM", DNSREC_DKIM, DNS_OK, { ED_A }, DNSREC_OK, NULL },
	{ "DKIM with another key", DNSREC_DKIM, DNS_OK, { ED_B }, DNSREC_DIFFERS,
	  "got \"" ED_B "\": another key" },
};

/* The expected record of a row: good.test's, HOSTNAME mail.good.test. */
static void want_rec(enum dnsrec_kind kind, struct dnsrec *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	snprintf(r->target, sizeof(r->target), "mail.good.test");
	switch (kind) {
	case DNSREC_MX: r->type = DNS_T_MX; break;
	case DNSREC_SRV: r->type = DNS_T_SRV; r->port = 587; break;
	case DNSREC_PTR: r->type = DNS_T_PTR; break;
	case DNSREC_ADDR:
	case DNSREC_ADDR_ANY:
		r->type = DNS_T_A;
		inet_pton(AF_INET, "192.0.2.10", r->addr);
		break;
	case DNSREC_TLSA:
		r->type = DNS_T_TLSA;
		snprintf(r->value, sizeof(r->value), "3 1 1 ABCD");
		break;
	case DNSREC_DKIM:
		snprintf(r->text, sizeof(r->text), "%s", ED_A);
		/* fall through */
	default:
		r->type = DNS_T_TXT;
	}
}

/* The answer of a row, into the arrays given. */
static void answer(const struct cmp_row *row, const struct dnsrec *r,
		   struct dns_answer *a, struct dns_mx *mx, struct dns_srv *srv,
		   struct dns_addr *addr, struct dns_tlsa *tlsa, char **txt)
{
	static const uint8_t keys[2][2] = { { 0xab, 0xcd }, { 0xff, 0xff } };

	memset(a, 0, sizeof(*a));
	a->status = row->status;
	a->type = r->type;
	a->why = row->status == DNS_TEMPFAIL || row->status == DNS_BOGUS
		 ? "no answer in time" : NULL;
	a->mx = mx;
	a->srv = srv;
	a->addr = addr;
	a->tlsa = tlsa;
	a->txt = a->ptr = txt;
	for (; a->n < 3 && row->records[a->n] != NULL; a->n++) {
		const char *s = row->records[a->n];
		size_t i = a->n;

		txt[i] = (char *)s;
		mx[i].pref = *s == '\0' ? 0 : 10;
		snprintf(mx[i].host, sizeof(mx[i].host), "%s", s);
		srv[i] = (struct dns_srv){ .weight = 1, .port = 587 };
		snprintf(srv[i].target, sizeof(srv[i].target), "%s", s);
		addr[i].family = AF_INET;
		inet_pton(AF_INET, s, addr[i].addr);
		tlsa[i] = (struct dns_tlsa){ 3, 1, 1, 2, keys[s[0] == '1'] };
	}
}

Test(dnsrec, compare)
{
	for (size_t i = 0; i < sizeof(cmp_rows) / sizeof(cmp_rows[0]); i++) {
		const struct cmp_row *row = &cmp_rows[i];
		struct dns_mx mx[3];
		struct dns_srv srv[3];
		struct dns_addr addr[3];
		struct dns_tlsa tlsa[3];
		char *txt[3], got[2048];
		struct dns_answer a;
		struct dnsrec r;
		enum dnsrec_verdict v;

		want_rec(row->kind, &r);
		answer(row, &r, &a, mx, srv, addr, tlsa, txt);
		v = dnsrec_compare(&r, &a, got, sizeof(got));
		cr_expect_eq(v, row->v, "%s: %s (%s)", row->what,
			     dnsrec_verdict_str(v), got);
		if (row->got != NULL || v == DNSREC_OK || v == DNSREC_MISSING)
			cr_expect_str_eq(got, row->got ? row->got : "", "%s",
					 row->what);
		else
			cr_expect(got[0] != '\0', "%s: says what differs", row->what);
	}
}

/* An answer of another type than asked is no answer. */
Test(dnsrec, compare_type)
{
	struct dnsrec r;
	struct dns_answer a = { .status = DNS_OK, .type = DNS_T_A };
	char got[256];

	want_rec(DNSREC_MX, &r);
	cr_expect_eq(dnsrec_compare(&r, &a, got, sizeof(got)), DNSREC_FAILED);
}

/* The TXT records of the table cut at every offset: a verdict and a
 * reason for it, never a read outside the text (each cut is an exact-size
 * heap copy). */
Test(dnsrec, compare_txt_cut_at_every_offset)
{
	for (size_t i = 0; i < sizeof(cmp_rows) / sizeof(cmp_rows[0]); i++) {
		const struct cmp_row *row = &cmp_rows[i];
		const char *s = row->records[0];
		struct dnsrec r;

		want_rec(row->kind, &r);
		if (r.type != DNS_T_TXT || s == NULL)
			continue;
		for (size_t len = 0; len <= strlen(s); len++) {
			char *cut = strndup(s, len), got[2048];
			char *txt[1] = { cut };
			struct dns_answer a = { .status = DNS_OK, .type = DNS_T_TXT,
						.txt = txt, .n = 1 };
			enum dnsrec_verdict v;

			cr_assert_not_null(cut);
			v = dnsrec_compare(&r, &a, got, sizeof(got));
			cr_expect(v == DNSREC_OK || v == DNSREC_MISSING ||
				  v == DNSREC_DIFFERS, "%s cut at %zu", row->what, len);
			cr_expect((v == DNSREC_DIFFERS) == (got[0] != '\0'),
				  "%s cut at %zu: %s", row->what, len, got);
			free(cut);
		}
	}
}
