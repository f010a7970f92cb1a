/* tests/test_fetch_config.c: the fetch_account keyword of kantorpos.conf:
 * defaults, every option, every error as FILE:LINE, the sample file and
 * manual page describing it, and what the default deadlines do to a
 * server that trickles. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config.h"
#include "common/config/config_load.h"
#include "fetch/deadline.h"
#include "tests/helpers/testutil.h"

#define BASE "data_dir /d\nuser_db /u\nlocal_domain example.org\n"
#define PIN "sha256:" \
	"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:" \
	"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"

static struct config *parse_ok(const char *text)
{
	char *err = NULL;
	struct config *cfg = config_parse("t.conf", "/base", text, strlen(text),
					  &err);

	cr_assert_not_null(cfg, "rejected:\n%s---\n%s", text, err ? err : "");
	return cfg;
}

Test(fetch_config, multipop_defaults)
{
	struct config *cfg = parse_ok(BASE
		"fetch_account isp host pop.isp.test user u password_file pw "
		"multipop Alice@Example.ORG\n");
	const struct config_fetch *f;

	cr_assert_eq(cfg->n_fetch, 1);
	f = config_find_fetch(cfg, "isp");
	cr_assert_not_null(f);
	cr_expect_null(config_find_fetch(cfg, "ISP"));
	cr_expect_str_eq(f->host, "pop.isp.test");
	cr_expect_eq(f->port, 995);
	cr_expect_str_eq(f->user, "u");
	cr_expect_str_eq(f->password_file, "/base/pw");
	cr_expect_eq(f->mode, CONFIG_FETCH_MULTIPOP);
	cr_expect_str_eq(f->target, "alice@example.org");
	cr_expect_eq(f->tls, CONFIG_FETCH_TLS_IMPLICIT);
	cr_expect_null(f->ca_file);
	cr_expect_null(f->fingerprint);
	cr_expect_not(f->plaintext_ok);
	cr_expect_eq(f->auth, CONFIG_FETCH_AUTH_ANY);
	cr_expect_not(f->keep);
	cr_expect_eq(f->keep_days, 0);
	cr_expect_eq(f->max_size, 0);
	cr_expect_eq(f->oversize, CONFIG_FETCH_OVERSIZE_SKIP);
	cr_expect_eq(f->interval, 300);
	cr_expect_eq(f->timeout, 300);
	cr_expect_eq(f->max_messages, 200000);
	cr_expect_eq(f->message_timeout, 60);
	cr_expect_eq(f->min_rate, 1024);
	cr_expect_eq(f->run_timeout, 3600);
	cr_expect_null(f->default_recipient);
	cr_expect_eq(f->n_headers, 0);
	cr_expect_eq(f->line, 4);
	config_free(cfg);
}

Test(fetch_config, every_option)
{
	struct config *cfg = parse_ok(BASE
		"local_domain example.net\n"
		"fetch_account a.b-c_1 host [::1]:1995 user remote password_file /s/pw "
		"domainpop Example.NET tls stls fingerprint " PIN " auth apop "
		"keep yes keep_days 30 max_size 10M oversize delete interval 2m "
		"default_recipient office headers Delivered-To,To,Cc "
		"skip_received 2 timeout 30s max_messages 50 message_timeout 2m "
		"min_rate 8K run_timeout 3h\n"
		"fetch_account lan host 10.0.0.1 user r password_file /pw "
		"multipop bob@example.org tls none plaintext-ok ca_file ca.pem\n");
	const struct config_fetch *f = &cfg->fetch[0], *g = &cfg->fetch[1];

	cr_assert_eq(cfg->n_fetch, 2);
	cr_expect_str_eq(f->name, "a.b-c_1");
	cr_expect_str_eq(f->host, "::1");
	cr_expect_eq(f->port, 1995);
	cr_expect_eq(f->mode, CONFIG_FETCH_DOMAINPOP);
	cr_expect_str_eq(f->target, "example.net");
	cr_expect_eq(f->tls, CONFIG_FETCH_TLS_STLS);
	cr_expect_str_eq(f->fingerprint, PIN);
	cr_expect_eq(f->auth, CONFIG_FETCH_AUTH_APOP);
	cr_expect(f->keep);
	cr_expect_eq(f->keep_days, 30);
	cr_expect_eq(f->max_size, 10 * 1024 * 1024);
	cr_expect_eq(f->oversize, CONFIG_FETCH_OVERSIZE_DELETE);
	cr_expect_eq(f->interval, 120);
	cr_expect_eq(f->timeout, 30);
	cr_expect_str_eq(f->default_recipient, "office");
	cr_assert_eq(f->n_headers, 3);
	cr_expect_str_eq(f->headers[2], "Cc");
	cr_expect_eq(f->skip_received, 2);
	cr_expect_eq(f->max_messages, 50);
	cr_expect_eq(f->message_timeout, 120);
	cr_expect_eq(f->min_rate, 8192);
	cr_expect_eq(f->run_timeout, 3 * 3600);
	cr_expect_eq(g->tls, CONFIG_FETCH_TLS_NONE);
	cr_expect_eq(g->port, 110);
	cr_expect(g->plaintext_ok);
	cr_expect_str_eq(g->ca_file, "/base/ca.pem");
	config_free(cfg);
}

Test(fetch_config, domainpop_defaults)
{
	static const char *const want[] = {
		"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
		"Received", "To", "Cc", "Resent-To", "Resent-Cc",
	};
	struct config *cfg = parse_ok(BASE
		"fetch_account d host h:110 tls stls user u password_file /p "
		"domainpop example.org\n");
	const struct config_fetch *f = &cfg->fetch[0];

	cr_expect_eq(f->port, 110);
	cr_expect_str_eq(f->default_recipient, "postmaster");
	cr_assert_eq(f->n_headers, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < f->n_headers; i++)
		cr_expect_str_eq(f->headers[i], want[i]);
	config_free(cfg);
}

Test(fetch_config, errors_table)
{
#define ACC "fetch_account a host h user u password_file /p "
	static const struct {
		const char *line;
		const char *err;
	} rows[] = {
		{ "fetch_account\n", "expected NAME" },
		{ "fetch_account -x host h\n", "expected NAME" },
		{ "fetch_account a/b host h\n", "expected NAME" },
		{ ACC "multipop a@example.org bogus 1\n",
		  "fetch_account: unknown option \"bogus\"" },
		{ ACC "multipop a@example.org user v\n",
		  "fetch_account: option user given twice" },
		{ ACC "multipop a@example.org timeout\n",
		  "fetch_account: timeout: expected a value" },
		{ "fetch_account a user u password_file /p multipop a@example.org\n",
		  "fetch_account: expected host" },
		{ "fetch_account a host h password_file /p multipop a@example.org\n",
		  "fetch_account: expected user" },
		{ "fetch_account a host h user u multipop a@example.org\n",
		  "fetch_account: expected password_file" },
		{ ACC "\n",
		  "fetch_account: expected multipop LOCAL@DOMAIN or domainpop DOMAIN" },
		{ ACC "multipop a@example.org domainpop example.org\n",
		  "expected one of multipop and domainpop" },
		{ ACC "multipop example.org\n",
		  "multipop: expected LOCAL@DOMAIN, got \"example.org\"" },
		{ ACC "multipop a/b@example.org\n", "multipop: expected LOCAL@DOMAIN" },
		{ ACC "domainpop a@example.org\n", "domainpop: expected a domain name" },
		{ ACC "multipop a@example.com\n",
		  "multipop: example.com is not a local_domain" },
		{ ACC "domainpop example.com\n",
		  "domainpop: example.com is not a local_domain" },
		{ ACC "multipop a@example.org tls maybe\n",
		  "tls: expected implicit, stls or none, got \"maybe\"" },
		{ ACC "multipop a@example.org tls none\n",
		  "tls none sends the password in the clear: add plaintext-ok" },
		{ ACC "multipop a@example.org fingerprint sha256:12\n",
		  "fingerprint: expected sha256: and 32 hex pairs" },
		{ ACC "multipop a@example.org ca_file c fingerprint " PIN "\n",
		  "expected one of ca_file and fingerprint" },
		{ ACC "multipop a@example.org auth cram\n",
		  "auth: expected any, plain, user or apop" },
		{ ACC "multipop a@example.org keep maybe\n",
		  "keep: expected yes or no" },
		{ ACC "multipop a@example.org keep_days 3\n",
		  "keep_days expects keep yes" },
		{ ACC "multipop a@example.org keep yes keep_days x\n",
		  "keep_days: expected a number from 0 to 36500" },
		{ ACC "multipop a@example.org max_size 10\n",
		  "max_size: expected a size from 1K to 4G" },
		{ ACC "multipop a@example.org oversize bounce\n",
		  "oversize: expected skip or delete" },
		{ ACC "multipop a@example.org interval 0\n",
		  "interval: expected a duration from 1s to 7d" },
		{ ACC "multipop a@example.org timeout 2h\n",
		  "timeout: expected a duration from 1s to 1h" },
		{ ACC "multipop a@example.org max_messages 0\n",
		  "max_messages: expected a number from 1 to 1000000" },
		{ ACC "multipop a@example.org max_messages 1000001\n",
		  "max_messages: expected a number from 1 to 1000000" },
		{ ACC "multipop a@example.org message_timeout 0\n",
		  "message_timeout: expected a duration from 1s to 1h" },
		{ ACC "multipop a@example.org min_rate 0\n",
		  "min_rate: expected a size (octets a second) from 1 to 1G" },
		{ ACC "multipop a@example.org min_rate 2G\n",
		  "min_rate: expected a size" },
		{ ACC "multipop a@example.org run_timeout 8d\n",
		  "run_timeout: expected a duration from 1s to 7d" },
		{ ACC "multipop a@example.org headers To\n",
		  "headers, skip_received and default_recipient are for domainpop" },
		{ ACC "domainpop example.org headers To,,Cc\n",
		  "headers: expected header names separated by commas" },
		{ ACC "domainpop example.org headers To:x\n",
		  "headers: expected header names" },
		{ ACC "domainpop example.org headers To,to\n",
		  "headers: to named twice" },
		{ ACC "domainpop example.org skip_received 101\n",
		  "skip_received: expected a number from 0 to 100" },
		{ ACC "domainpop example.org default_recipient a@b\n",
		  "default_recipient: expected a local part" },
		{ "fetch_account a host *:995 user u password_file /p multipop a@example.org\n",
		  "host: expected HOST[:PORT]" },
		{ "fetch_account a host h:0 user u password_file /p multipop a@example.org\n",
		  "host: expected a port from 1 to 65535" },
	};
#undef ACC

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *text, *err = NULL;
		struct config *cfg;

		cr_assert(asprintf(&text, BASE "%s", rows[i].line) > 0);
		cfg = config_parse("t.conf", "/base", text, strlen(text), &err);
		cr_expect_null(cfg, "row %zu accepted: %s", i, rows[i].line);
		config_free(cfg);
		cr_assert_not_null(err);
		cr_expect(strncmp(err, "t.conf:4: ", 10) == 0, "row %zu: %s", i,
			  err);
		cr_expect_not_null(strstr(err, rows[i].err), "row %zu: %s", i,
				   err);
		free(err);
		free(text);
	}
}

Test(fetch_config, duplicate_account_name)
{
	const char *text = BASE
		"fetch_account a host h user u password_file /p multipop a@example.org\n"
		"fetch_account a host h user u password_file /p multipop b@example.org\n";
	char *err = NULL;

	cr_assert_null(config_parse("t.conf", "/base", text, strlen(text), &err));
	cr_expect_str_eq(err,
		"t.conf:5: fetch_account: duplicate account a (already on line 4)\n");
	free(err);
}

/* The sample file documents the keyword (its commented example lines parse
 * cleanly when enabled), and the manual has an entry for it. */
Test(fetch_config, sample_and_manual)
{
	const char *src = getenv("KANTORPOS_SRCDIR");
	char *sample_path, *man_path, *sample, *man, *err = NULL, *p;
	struct config *cfg;

	cr_assert_not_null(src);
	cr_assert(asprintf(&sample_path, "%s/etc/kantorpos.conf", src) > 0);
	cr_assert(asprintf(&man_path, "%s/man/kantorpos.conf.5", src) > 0);
	sample = tu_read_file(sample_path, NULL);
	man = tu_read_file(man_path, NULL);
	cr_assert_not_null(sample);
	cr_assert_not_null(man);
	cr_expect_not_null(strstr(man, "\n.TP\n\\fBfetch_account\\fP "));
	cr_assert_not_null(strstr(sample, "\n#fetch_account "));
	while ((p = strstr(sample, "\n#fetch_account ")) != NULL)
		memmove(p + 1, p + 2, strlen(p + 2) + 1);
	cfg = config_parse(sample_path, NULL, sample, strlen(sample), &err);
	cr_assert_not_null(cfg, "%s", err ? err : "");
	cr_expect_eq(cfg->n_fetch, 2);
	config_free(cfg);
	free(sample);
	free(man);
	free(sample_path);
	free(man_path);
}

/* When a step that carries `rate` octets a second ends under the deadline
 * rule (second by second, as the timer re-checks), or 0 when it never
 * does within `limit` seconds. */
static unsigned trickle_end(const struct config_fetch *f, uint64_t rate,
			    uint64_t cap, unsigned limit)
{
	for (unsigned t = 1; t <= limit; t++)
		if ((double)t >= fdl_deadline(f->message_timeout, f->min_rate,
					      (uint64_t)t * rate, cap))
			return t;
	return 0;
}

/* The defaults end a server that sends one line (up to 100 octets) a
 * second within two minutes, whatever size it announced for the message,
 * and leave any transfer at min_rate or faster alone. */
Test(fetch_config, default_deadlines_end_a_trickle)
{
	struct config *cfg = parse_ok(BASE
		"fetch_account isp host h user u password_file pw "
		"multipop a@example.org\n");
	const struct config_fetch *f = &cfg->fetch[0];
	static const uint64_t sizes[] = { 0, 2000, 60000, 50u << 20,
					  4ull << 30, UINT64_MAX };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (uint64_t rate = 1; rate <= 100; rate *= 10) {
			unsigned t = trickle_end(f, rate, sizes[i], 1000);

			cr_expect(t >= f->message_timeout && t < 120,
				  "size %llu at %llu B/s: ended after %u s",
				  (unsigned long long)sizes[i],
				  (unsigned long long)rate, t);
		}
	}
	/* At min_rate a 50 MB message is never cut by this rule (the run
	 * deadline bounds it instead). */
	cr_expect_eq(trickle_end(f, f->min_rate, 50u << 20, 20000), 0);
	/* A message's deadline is never past message_timeout + SIZE /
	 * min_rate, however much arrives. */
	cr_expect_float_eq(fdl_deadline(60, 1024, 1u << 30, 10240), 70.0,
			   1e-9);
	cr_expect_float_eq(fdl_deadline(60, 1024, 0, 10240), 60.0, 1e-9);
	cr_expect_eq(f->run_timeout, 3600, "a run ends within an hour");
	config_free(cfg);
}
