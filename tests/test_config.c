/* tests/test_config.c: kantorpos.conf parsing: defaults, the sample file,
 * value types and suffixes, listeners, TLS rules, and every error message. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/config/config_value.h"
#include "tests/helpers/testutil.h"

/* The three required keywords: lines 1-3 of most test files. */
#define BASE "data_dir /d\nuser_db /u\nlocal_domain example.org\n"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Parse text named "t.conf" with relative paths under /base. */
static struct config *parse(const char *text, char **err_r)
{
	return config_parse("t.conf", "/base", text, strlen(text), err_r);
}

/* Parse text that must be valid. */
static struct config *parse_ok(const char *text)
{
	char *err = NULL;
	struct config *cfg = parse(text, &err);

	cr_assert_not_null(cfg, "config rejected:\n%s---\n%s", text,
			   err ? err : "(no text)");
	cr_assert_null(err);
	return cfg;
}

/* Parse text that must fail with exactly the error text expected. */
static void parse_fails(const char *text, const char *expected)
{
	char *err = NULL;
	struct config *cfg = parse(text, &err);

	cr_assert_null(cfg, "config accepted:\n%s", text);
	cr_assert_not_null(err);
	cr_assert_str_eq(err, expected, "input:\n%s", text);
	free(err);
}

/* BASE plus line (line 4 of the file) must fail with exactly error. */
static void line_fails(const char *line, const char *error)
{
	char *text, *expected;

	cr_assert(asprintf(&text, BASE "%s\n", line) > 0);
	cr_assert(asprintf(&expected, "t.conf:4: %s\n", error) > 0);
	parse_fails(text, expected);
	free(text);
	free(expected);
}

Test(config, minimal_file_gets_every_default)
{
	struct config *cfg = parse_ok(BASE);

	cr_assert_str_eq(cfg->file, "t.conf");
	cr_assert_null(cfg->hostname, "the pure parser leaves it unset");
	cr_assert_str_eq(cfg->data_dir, "/d");
	cr_assert_str_eq(cfg->user_db, "/u");
	cr_assert_null(cfg->aliases);
	cr_assert_null(cfg->run_as);
	cr_assert_eq(cfg->log_level, LOG_LVL_INFO);
	cr_assert_eq(cfg->n_domains, 1);
	cr_assert_str_eq(cfg->domains[0].name, "example.org");
	cr_assert_null(cfg->domains[0].catchall);
	cr_assert_eq(cfg->domains[0].line, 3);
	cr_assert_eq(cfg->n_listeners, 0);
	cr_assert_null(cfg->tls_cert);
	cr_assert_null(cfg->tls_key);
	cr_assert_eq(cfg->max_message_size, 50ULL * 1024 * 1024);
	cr_assert_eq(cfg->max_recipients, 100);
	cr_assert_eq(cfg->smtp_line_limit, 1000);
	cr_assert_eq(cfg->max_connections, 10000);
	cr_assert_eq(cfg->max_connections_per_ip, 50);
	cr_assert_eq(cfg->bad_command_limit, 20);
	cr_assert_eq(cfg->smtp_timeout, 300);
	cr_assert_eq(cfg->pop3_timeout, 600);
	cr_assert_str_eq(cfg->recipient_delimiter, "+");
	cr_assert_eq(cfg->quota_bytes, 0);
	cr_assert_eq(cfg->quota_messages, 0);
	cr_assert_eq(cfg->quota_permanent, false);
	cr_assert_null(cfg->relayhost.host);
	cr_assert_eq(cfg->workers, 0);
	cr_assert_eq(cfg->password_opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
	cr_assert_eq(cfg->password_memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
	cr_assert_eq(cfg->login_fail_delay, 2);
	cr_assert_eq(cfg->login_fail_limit, 10);
	cr_assert_eq(cfg->login_fail_window, 900);
	cr_assert_eq(cfg->n_dns_resolver, 0);
	cr_assert_null(cfg->dns_resolver);
	cr_assert_str_eq(cfg->dns_trust_anchor, "/usr/share/dns/root.key");
	config_free(cfg);
}

Test(config, every_keyword_set)
{
	struct config *cfg = parse_ok(
		"hostname Mail.Example.org\n"
		"data_dir /var/lib/kp\n"
		"user_db users\n"
		"aliases ./aliases\n"
		"run_as kantorpos\n"
		"log_level debug\n"
		"local_domain Example.ORG catchall postmaster\n"
		"local_domain example.net\n"
		"listen smtp 127.0.0.1:2525\n"
		"tls_cert tls/cert.pem\n"
		"tls_key /k.pem\n"
		"max_message_size 10M\n"
		"max_recipients 1000\n"
		"smtp_line_limit 4096\n"
		"max_connections 5\n"
		"max_connections_per_ip 2\n"
		"bad_command_limit 3\n"
		"smtp_timeout 3s\n"
		"pop3_timeout 3\n"
		"recipient_delimiter +-\n"
		"quota_bytes 1G\n"
		"quota_messages 500\n"
		"quota_permanent yes\n"
		"relayhost smtp.isp.example:587\n"
		"workers 4\n"
		"password_opslimit 1\n"
		"password_memlimit 8K\n"
		"login_fail_delay 0\n"
		"login_fail_limit 3\n"
		"login_fail_window 1h\n");

	cr_assert_str_eq(cfg->hostname, "Mail.Example.org");
	cr_assert_str_eq(cfg->data_dir, "/var/lib/kp");
	cr_assert_str_eq(cfg->user_db, "/base/users");
	cr_assert_str_eq(cfg->aliases, "/base/aliases");
	cr_assert_str_eq(cfg->run_as, "kantorpos");
	cr_assert_eq(cfg->log_level, LOG_LVL_DEBUG);
	cr_assert_eq(cfg->n_domains, 2);
	cr_assert_str_eq(cfg->domains[0].name, "example.org");
	cr_assert_str_eq(cfg->domains[0].catchall, "postmaster");
	cr_assert_eq(cfg->domains[1].line, 8);
	cr_assert_eq(cfg->n_listeners, 1);
	cr_assert_eq(cfg->listeners[0].line, 9);
	cr_assert_str_eq(cfg->tls_cert, "/base/tls/cert.pem");
	cr_assert_str_eq(cfg->tls_key, "/k.pem");
	cr_assert_eq(cfg->max_message_size, 10ULL << 20);
	cr_assert_eq(cfg->max_recipients, 1000);
	cr_assert_eq(cfg->smtp_line_limit, 4096);
	cr_assert_eq(cfg->max_connections, 5);
	cr_assert_eq(cfg->max_connections_per_ip, 2);
	cr_assert_eq(cfg->bad_command_limit, 3);
	cr_assert_eq(cfg->smtp_timeout, 3);
	cr_assert_eq(cfg->pop3_timeout, 3);
	cr_assert_str_eq(cfg->recipient_delimiter, "+-");
	cr_assert_eq(cfg->quota_bytes, 1ULL << 30);
	cr_assert_eq(cfg->quota_messages, 500);
	cr_assert_eq(cfg->quota_permanent, true);
	cr_assert_str_eq(cfg->relayhost.host, "smtp.isp.example");
	cr_assert_eq(cfg->relayhost.port, 587);
	cr_assert_eq(cfg->relayhost.line, 24);
	cr_assert_eq(cfg->workers, 4);
	cr_assert_eq(cfg->password_opslimit, 1);
	cr_assert_eq(cfg->password_memlimit, 8192);
	cr_assert_eq(cfg->login_fail_delay, 0);
	cr_assert_eq(cfg->login_fail_limit, 3);
	cr_assert_eq(cfg->login_fail_window, 3600);
	config_free(cfg);
}

Test(config, sample_file_parses_cleanly)
{
	const char *src = getenv("KANTORPOS_SRCDIR");
	char *path, *err = NULL;
	struct config *cfg;

	cr_assert_not_null(src, "KANTORPOS_SRCDIR is set by make check");
	cr_assert(asprintf(&path, "%s/etc/kantorpos.conf", src) > 0);
	cfg = config_load(path, &err);
	cr_assert_not_null(cfg, "%s", err ? err : "");
	cr_assert_str_eq(cfg->data_dir, "/var/lib/kantorpos");
	cr_assert_str_eq(cfg->user_db, "/var/lib/kantorpos/users");
	cr_assert_eq(cfg->n_domains, 2);
	cr_assert_str_eq(cfg->domains[1].catchall, "postmaster");
	cr_assert_eq(cfg->n_listeners, 5);
	cr_assert_eq(cfg->listeners[2].role, CONFIG_ROLE_SUBMISSIONS);
	cr_assert(cfg->listeners[2].tls);
	cr_assert(cfg->listeners[4].tls);
	cr_assert_not_null(cfg->hostname);
	config_free(cfg);
	free(path);
}

Test(config, comments_blank_lines_tabs_and_crlf)
{
	struct config *cfg = parse_ok(
		"# a comment\n"
		"\n"
		"   \t  \n"
		"data_dir /d   # trailing comment\n"
		"\tuser_db\t/u\r\n"
		"local_domain example.org#glued comment\n"
		"#max_recipients lots\n"
		"max_recipients 200");

	cr_assert_str_eq(cfg->data_dir, "/d");
	cr_assert_str_eq(cfg->user_db, "/u");
	cr_assert_str_eq(cfg->domains[0].name, "example.org");
	cr_assert_eq(cfg->domains[0].line, 6);
	cr_assert_eq(cfg->max_recipients, 200, "last line without newline");
	config_free(cfg);
}

Test(config, sizes_and_durations)
{
	static const struct {
		const char *line;
		unsigned long long size; /* max_message_size or 0 */
		unsigned secs;           /* smtp_timeout or 0 */
	} rows[] = {
		{ "max_message_size 1024", 1024, 0 },
		{ "max_message_size 64K", 64ULL << 10, 0 },
		{ "max_message_size 64k", 64ULL << 10, 0 },
		{ "max_message_size 2M", 2ULL << 20, 0 },
		{ "max_message_size 4G", 4ULL << 30, 0 },
		{ "smtp_timeout 45", 0, 45 },
		{ "smtp_timeout 45s", 0, 45 },
		{ "smtp_timeout 2m", 0, 120 },
		{ "smtp_timeout 3h", 0, 10800 },
		{ "smtp_timeout 1d", 0, 86400 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *text;
		struct config *cfg;

		cr_assert(asprintf(&text, BASE "%s\n", rows[i].line) > 0);
		cfg = parse_ok(text);
		if (rows[i].size)
			cr_assert_eq(cfg->max_message_size, rows[i].size, "%s",
				     rows[i].line);
		if (rows[i].secs)
			cr_assert_eq(cfg->smtp_timeout, rows[i].secs, "%s",
				     rows[i].line);
		config_free(cfg);
		free(text);
	}
}

Test(config, listeners)
{
	static const struct {
		const char *line;
		enum config_proto proto;
		enum config_role role;
		enum config_addr addr;
		const char *host;
		unsigned port;
		bool tls, plaintext_ok;
	} rows[] = {
		{ "listen smtp 127.0.0.1:25", CONFIG_PROTO_SMTP, CONFIG_ROLE_MX,
		  CONFIG_ADDR_IPV4, "127.0.0.1", 25, false, false },
		{ "listen smtp [::1]:587 submission", CONFIG_PROTO_SMTP,
		  CONFIG_ROLE_SUBMISSION, CONFIG_ADDR_IPV6, "::1", 587, false,
		  false },
		{ "listen smtp *:465 submissions", CONFIG_PROTO_SMTP,
		  CONFIG_ROLE_SUBMISSIONS, CONFIG_ADDR_ANY, NULL, 465, true,
		  false },
		{ "listen smtp mail.example.org:2525 tls mx", CONFIG_PROTO_SMTP,
		  CONFIG_ROLE_MX, CONFIG_ADDR_NAME, "mail.example.org", 2525,
		  true, false },
		{ "listen smtp localhost:65535 plaintext-ok submission",
		  CONFIG_PROTO_SMTP, CONFIG_ROLE_SUBMISSION, CONFIG_ADDR_NAME,
		  "localhost", 65535, false, true },
		{ "listen pop3 *:110", CONFIG_PROTO_POP3, CONFIG_ROLE_NONE,
		  CONFIG_ADDR_ANY, NULL, 110, false, false },
		{ "listen pop3 [::]:995 tls", CONFIG_PROTO_POP3, CONFIG_ROLE_NONE,
		  CONFIG_ADDR_IPV6, "::", 995, true, false },
		{ "listen pop3 10.0.0.1:1 plaintext-ok", CONFIG_PROTO_POP3,
		  CONFIG_ROLE_NONE, CONFIG_ADDR_IPV4, "10.0.0.1", 1, false, true },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct config_listen *l;
		struct config *cfg;
		char *text;

		cr_assert(asprintf(&text, BASE "tls_cert c\ntls_key k\n%s\n",
				   rows[i].line) > 0);
		cfg = parse_ok(text);
		cr_assert_eq(cfg->n_listeners, 1);
		l = &cfg->listeners[0];
		cr_assert_eq(l->proto, rows[i].proto, "%s", rows[i].line);
		cr_assert_eq(l->role, rows[i].role, "%s", rows[i].line);
		cr_assert_eq(l->addr, rows[i].addr, "%s", rows[i].line);
		if (rows[i].host)
			cr_assert_str_eq(l->host, rows[i].host, "%s", rows[i].line);
		else
			cr_assert_null(l->host, "%s", rows[i].line);
		cr_assert_eq(l->port, rows[i].port, "%s", rows[i].line);
		cr_assert_eq(l->tls, rows[i].tls, "%s", rows[i].line);
		cr_assert_eq(l->plaintext_ok, rows[i].plaintext_ok, "%s",
			     rows[i].line);
		cr_assert_eq(l->line, 6);
		config_free(cfg);
		free(text);
	}
}

Test(config, tls_requirement)
{
	static const struct {
		const char *line;
		const char *error; /* NULL: fine without a certificate */
	} rows[] = {
		{ "listen smtp *:25", NULL },
		{ "listen smtp *:25 mx plaintext-ok", NULL },
		{ "listen pop3 *:110", NULL },
		{ "listen pop3 *:110 plaintext-ok", NULL },
		{ "listen smtp *:587 submission plaintext-ok", NULL },
		{ "listen smtp *:587 submission",
		  "t.conf:4: listen: submission expects tls_cert and tls_key for STARTTLS (or the plaintext-ok flag)\n" },
		{ "listen smtp *:465 submissions",
		  "t.conf:4: listen: implicit TLS expects tls_cert and tls_key\n" },
		{ "listen smtp *:465 submissions plaintext-ok",
		  "t.conf:4: listen: implicit TLS expects tls_cert and tls_key\n" },
		{ "listen smtp *:25 tls",
		  "t.conf:4: listen: implicit TLS expects tls_cert and tls_key\n" },
		{ "listen pop3 *:995 tls",
		  "t.conf:4: listen: implicit TLS expects tls_cert and tls_key\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *text, *with_cert;

		cr_assert(asprintf(&text, BASE "%s\n", rows[i].line) > 0);
		cr_assert(asprintf(&with_cert, "%stls_cert c\ntls_key k\n",
				   text) > 0);
		if (rows[i].error)
			parse_fails(text, rows[i].error);
		else
			config_free(parse_ok(text));
		config_free(parse_ok(with_cert));
		free(text);
		free(with_cert);
	}
}

/* Each bad line goes on line 4, after the three required keywords. */
Test(config, every_error_message)
{
	static const struct {
		const char *line;
		const char *error;
	} rows[] = {
		{ "frobnicate yes", "unknown keyword \"frobnicate\"" },
		{ "data_dir /again", "duplicate keyword data_dir (already on line 1)" },
		{ "max_recipients", "max_recipients: expected a value" },
		{ "max_recipients 100 200", "max_recipients: expected one value, got 2" },
		{ "max_recipients many", "max_recipients: expected a number from 100 to 100000, got \"many\"" },
		{ "max_recipients 99", "max_recipients: expected a number from 100 to 100000, got \"99\"" },
		{ "max_recipients -100", "max_recipients: expected a number from 100 to 100000, got \"-100\"" },
		{ "max_recipients 99999999999999999999999", "max_recipients: expected a number from 100 to 100000, got \"99999999999999999999999\"" },
		{ "smtp_line_limit 999", "smtp_line_limit: expected a number from 1000 to 1048576, got \"999\"" },
		{ "workers 1025", "workers: expected a number from 0 to 1024, got \"1025\"" },
		{ "password_opslimit 0", "password_opslimit: expected a number from 1 to 4294967295, got \"0\"" },
		{ "max_message_size lots", "max_message_size: expected a size like 50M, got \"lots\"" },
		{ "max_message_size 5MB", "max_message_size: expected a size like 50M, got \"5MB\"" },
		{ "max_message_size M", "max_message_size: expected a size like 50M, got \"M\"" },
		{ "max_message_size 5T", "max_message_size: expected a size like 50M, got \"5T\"" },
		{ "max_message_size 99999999999G", "max_message_size: expected a size like 50M, got \"99999999999G\"" },
		{ "max_message_size 5G", "max_message_size: expected a size from 1K to 4G, got \"5G\"" },
		{ "max_message_size 1000", "max_message_size: expected a size from 1K to 4G, got \"1000\"" },
		{ "password_memlimit 4K", "password_memlimit: expected a size from 8K to 4294967295K, got \"4K\"" },
		{ "smtp_timeout soon", "smtp_timeout: expected a duration like 5m, got \"soon\"" },
		{ "smtp_timeout 5M", "smtp_timeout: expected a duration like 5m, got \"5M\"" },
		{ "smtp_timeout 1w", "smtp_timeout: expected a duration like 5m, got \"1w\"" },
		{ "smtp_timeout 0", "smtp_timeout: expected a duration from 1s to 1d, got \"0\"" },
		{ "pop3_timeout 2d", "pop3_timeout: expected a duration from 1s to 1d, got \"2d\"" },
		{ "login_fail_delay 2m", "login_fail_delay: expected a duration from 0s to 1m, got \"2m\"" },
		{ "quota_permanent maybe", "quota_permanent: expected yes or no, got \"maybe\"" },
		{ "quota_permanent YES", "quota_permanent: expected yes or no, got \"YES\"" },
		{ "log_level loud", "log_level: expected one of error, warn, info, debug, got \"loud\"" },
		{ "log_level", "log_level: expected one of error, warn, info, debug" },
		{ "hostname -bad-.example", "hostname: expected a host name, got \"-bad-.example\"" },
		{ "hostname a..b", "hostname: expected a host name, got \"a..b\"" },
		{ "run_as -root", "run_as: expected a user name, got \"-root\"" },
		{ "run_as a/b", "run_as: expected a user name, got \"a/b\"" },
		{ "local_domain", "local_domain: expected DOMAIN [catchall LOCALPART]" },
		{ "local_domain a.example catchall", "local_domain: expected DOMAIN [catchall LOCALPART]" },
		{ "local_domain a_b.example", "local_domain: expected a domain name, got \"a_b.example\"" },
		{ "local_domain a.example fallback bob", "local_domain: expected \"catchall\", got \"fallback\"" },
		{ "local_domain a.example catchall ../x", "local_domain: catchall: expected a local part, got \"../x\"" },
		{ "local_domain a.example catchall a/b", "local_domain: catchall: expected a local part, got \"a/b\"" },
		{ "local_domain EXAMPLE.org", "local_domain: duplicate domain example.org (already on line 3)" },
		{ "recipient_delimiter", "recipient_delimiter: expected CHARS or none" },
		{ "recipient_delimiter @", "recipient_delimiter: expected characters from +-_=%&~!$^*?{}| or none, got \"@\"" },
		{ "recipient_delimiter +a", "recipient_delimiter: expected characters from +-_=%&~!$^*?{}| or none, got \"+a\"" },
		{ "relayhost", "relayhost: expected HOST[:PORT] [tls implicit|starttls|none] [auth USER PASSWORD_FILE]" },
		{ "relayhost *:25", "relayhost: expected HOST:PORT with HOST a host name, an IPv4 address or [IPv6 address], got \"*:25\"" },
		{ "relayhost smtp.example:0", "relayhost: expected a port from 1 to 65535 in \"smtp.example:0\"" },
		{ "dns_resolver", "dns_resolver: expected ADDR[:PORT]..." },
		{ "dns_resolver ns.example", "dns_resolver: expected ADDR[:PORT] with ADDR an IPv4 address or [IPv6 address], got \"ns.example\"" },
		{ "dns_resolver 127.0.0.1 *:53", "dns_resolver: expected ADDR[:PORT] with ADDR an IPv4 address or [IPv6 address], got \"*:53\"" },
		{ "dns_resolver ::1", "dns_resolver: expected ADDR[:PORT] with ADDR an IPv4 address or [IPv6 address], got \"::1\"" },
		{ "dns_resolver 300.0.0.1", "dns_resolver: expected ADDR[:PORT] with ADDR an IPv4 address or [IPv6 address], got \"300.0.0.1\"" },
		{ "dns_resolver 127.0.0.1:0", "dns_resolver: expected a port from 1 to 65535 in \"127.0.0.1:0\"" },
		{ "dns_resolver [::1]:dns", "dns_resolver: expected a port from 1 to 65535 in \"[::1]:dns\"" },
		{ "dns_resolver 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9", "dns_resolver: expected at most 8 servers, got 9" },
		{ "dns_trust_anchor", "dns_trust_anchor: expected PATH or none" },
		{ "dns_trust_anchor /a /b", "dns_trust_anchor: expected PATH or none" },
		{ "listen", "listen: expected smtp|pop3 ADDRESS:PORT [flag...]" },
		{ "listen smtp", "listen: expected smtp|pop3 ADDRESS:PORT [flag...]" },
		{ "listen imap *:143", "listen: expected smtp or pop3, got \"imap\"" },
		{ "listen smtp *", "listen: expected a port from 1 to 65535 in \"*\"" },
		{ "listen smtp *:0", "listen: expected a port from 1 to 65535 in \"*:0\"" },
		{ "listen smtp *:65536", "listen: expected a port from 1 to 65535 in \"*:65536\"" },
		{ "listen smtp *:smtp", "listen: expected a port from 1 to 65535 in \"*:smtp\"" },
		{ "listen smtp *:+25", "listen: expected a port from 1 to 65535 in \"*:+25\"" },
		{ "listen smtp ::1:25", "listen: expected ADDRESS:PORT with ADDRESS an IPv4 address, [IPv6 address], * or a host name, got \"::1:25\"" },
		{ "listen smtp [::1:25", "listen: expected ADDRESS:PORT with ADDRESS an IPv4 address, [IPv6 address], * or a host name, got \"[::1:25\"" },
		{ "listen smtp [nope]:25", "listen: expected ADDRESS:PORT with ADDRESS an IPv4 address, [IPv6 address], * or a host name, got \"[nope]:25\"" },
		{ "listen smtp 300.1.1.1:25", "listen: expected ADDRESS:PORT with ADDRESS an IPv4 address, [IPv6 address], * or a host name, got \"300.1.1.1:25\"" },
		{ "listen smtp *:25 fast", "listen: unknown flag \"fast\"" },
		{ "listen smtp *:25 TLS", "listen: unknown flag \"TLS\"" },
		{ "listen smtp *:25 tls tls", "listen: flag tls given twice" },
		{ "listen smtp *:25 mx submission", "listen: expected one role of mx, submission, submissions, got \"mx\" and \"submission\"" },
		{ "listen pop3 *:110 mx", "listen: pop3 takes no role flag, got \"mx\"" },
		{ "listen pop3 *:110 submissions", "listen: pop3 takes no role flag, got \"submissions\"" },
		{ "tls_cert /c.pem", "tls_cert: expected tls_key as well" },
		{ "tls_key /k.pem", "tls_key: expected tls_cert as well" },
		{ "hostname a\001b", "unexpected control character 0x01" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		line_fails(rows[i].line, rows[i].error);
}

Test(config, missing_required_keywords)
{
	parse_fails("", "t.conf: missing required keyword data_dir\n"
			"t.conf: missing required keyword user_db\n"
			"t.conf: missing required keyword local_domain\n");
	parse_fails("data_dir /d\nlocal_domain x.example\n",
		    "t.conf: missing required keyword user_db\n");
}

Test(config, all_errors_of_a_file_reported_in_order)
{
	parse_fails("# broken on purpose\n"
		    "listen smtp *:465 submissions\n"
		    "max_message_size lots\n"
		    "\n"
		    "local_domain example.org\n"
		    "bogus 1\n"
		    "local_domain Example.Org\n"
		    "max_message_size 1M\n"
		    "max_message_size 2M\n",
		    "t.conf:2: listen: implicit TLS expects tls_cert and tls_key\n"
		    "t.conf:3: max_message_size: expected a size like 50M, got \"lots\"\n"
		    "t.conf:6: unknown keyword \"bogus\"\n"
		    "t.conf:7: local_domain: duplicate domain example.org (already on line 5)\n"
		    "t.conf:8: duplicate keyword max_message_size (already on line 3)\n"
		    "t.conf:9: duplicate keyword max_message_size (already on line 3)\n"
		    "t.conf: missing required keyword data_dir\n"
		    "t.conf: missing required keyword user_db\n");
}

Test(config, duplicate_listener_address)
{
	parse_fails(BASE "listen smtp *:25\nlisten pop3 *:25\n",
		    "t.conf:5: listen: duplicate address *:25 (already on line 4)\n");
	parse_fails(BASE "listen smtp [::1]:25\nlisten smtp [::1]:25 mx\n",
		    "t.conf:5: listen: duplicate address [::1]:25 (already on line 4)\n");
	config_free(parse_ok(BASE "listen smtp *:25\nlisten smtp 127.0.0.1:25\n"
				  "listen smtp [::1]:25\nlisten smtp *:26\n"));
}

Test(config, nul_byte_is_an_error)
{
	static const char text[] = BASE "hostname a\0b\n";
	char *err = NULL;

	cr_assert_null(config_parse("t.conf", NULL, text, sizeof(text) - 1, &err));
	cr_assert_str_eq(err, "t.conf:4: unexpected NUL byte\n");
	free(err);
}

Test(config, error_count_is_capped)
{
	char *text = NULL, *err = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int i;

	cr_assert_not_null(f);
	fputs(BASE, f);
	for (i = 0; i < 150; i++)
		fputs("bogus\n", f);
	fclose(f);
	cr_assert_null(parse(text, &err));
	cr_assert_not_null(strstr(err, "t.conf:103: unknown keyword \"bogus\"\n"));
	cr_assert_null(strstr(err, "t.conf:104:"));
	cr_assert_not_null(strstr(err, "t.conf: 50 more errors not shown\n"));
	free(err);
	free(text);
}

Test(config, domains_are_case_insensitive)
{
	struct config *cfg = parse_ok(
		"data_dir /d\nuser_db /u\n"
		"local_domain Example.ORG\nlocal_domain lab.example catchall info\n");
	const struct config_domain *d;

	cr_assert_str_eq(cfg->domains[0].name, "example.org");
	d = config_find_domain(cfg, "EXAMPLE.org");
	cr_assert_not_null(d);
	cr_assert_eq(d, &cfg->domains[0]);
	d = config_find_domain(cfg, "Lab.Example");
	cr_assert_not_null(d);
	cr_assert_str_eq(d->catchall, "info");
	cr_assert_null(config_find_domain(cfg, "other.example"));
	cr_assert_null(config_find_domain(cfg, "example"));
	config_free(cfg);
}

Test(config, recipient_delimiter_none_disables)
{
	struct config *cfg = parse_ok(BASE "recipient_delimiter none\n");

	cr_assert_str_eq(cfg->recipient_delimiter, "");
	config_free(cfg);
}

Test(config, relayhost_forms)
{
	static const struct {
		const char *value, *host;
		unsigned port;
	} rows[] = {
		{ "smtp.isp.example:587", "smtp.isp.example", 587 },
		{ "smtp.isp.example", "smtp.isp.example", 25 },
		{ "192.0.2.1:2525", "192.0.2.1", 2525 },
		{ "[2001:db8::1]:25", "2001:db8::1", 25 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct config *cfg;
		char *text;

		cr_assert(asprintf(&text, BASE "relayhost %s\n", rows[i].value) > 0);
		cfg = parse_ok(text);
		cr_assert_str_eq(cfg->relayhost.host, rows[i].host);
		cr_assert_eq(cfg->relayhost.port, rows[i].port);
		config_free(cfg);
		free(text);
	}
}

/* The relayhost's TLS: its tls option, the older relayhost_tls, or the
 * default by port (465 implicit, any other verified STARTTLS). */
Test(config, relayhost_tls_and_auth)
{
	static const struct {
		const char *lines;
		enum config_relay_tls tls;
		const char *user, *file;
	} rows[] = {
		{ "relayhost smtp.isp.example:465", CONFIG_RELAY_IMPLICIT, NULL, NULL },
		{ "relayhost smtp.isp.example:587", CONFIG_RELAY_STARTTLS, NULL, NULL },
		{ "relayhost smtp.isp.example", CONFIG_RELAY_STARTTLS, NULL, NULL },
		{ "relayhost smtp.isp.example:2465 tls implicit", CONFIG_RELAY_IMPLICIT, NULL, NULL },
		{ "relayhost smtp.isp.example:465 tls starttls", CONFIG_RELAY_STARTTLS, NULL, NULL },
		{ "relayhost 127.0.0.1:2525 tls none", CONFIG_RELAY_NONE, NULL, NULL },
		{ "relayhost smtp.isp.example:465 auth me@isp.example relay.pw",
		  CONFIG_RELAY_IMPLICIT, "me@isp.example", "/base/relay.pw" },
		{ "relayhost smtp.isp.example:587 auth me /etc/pw tls starttls",
		  CONFIG_RELAY_STARTTLS, "me", "/etc/pw" },
		{ "relayhost_tls opportunistic\nrelayhost smtp.isp.example:587",
		  CONFIG_RELAY_OPPORTUNISTIC, NULL, NULL },
		{ "relayhost smtp.isp.example:465\nrelayhost_tls required",
		  CONFIG_RELAY_STARTTLS, NULL, NULL },
		{ "relayhost smtp.isp.example:587\nrelayhost_tls none",
		  CONFIG_RELAY_NONE, NULL, NULL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct config *cfg;
		char *text;

		cr_assert(asprintf(&text, BASE "%s\n", rows[i].lines) > 0);
		cfg = parse_ok(text);
		cr_assert_eq(cfg->relayhost.tls, rows[i].tls, "row %zu", i);
		if (rows[i].user == NULL) {
			cr_assert_null(cfg->relayhost.auth_user, "row %zu", i);
			cr_assert_null(cfg->relayhost.password_file, "row %zu", i);
		} else {
			cr_assert_str_eq(cfg->relayhost.auth_user, rows[i].user);
			cr_assert_str_eq(cfg->relayhost.password_file, rows[i].file);
		}
		config_free(cfg);
		free(text);
	}
}

Test(config, relayhost_errors)
{
	static const struct {
		const char *lines, *error;
	} rows[] = {
		{ "relayhost h.example tls", "t.conf:4: relayhost: expected tls implicit|starttls|none or auth USER PASSWORD_FILE, got \"tls\"\n" },
		{ "relayhost h.example tls required", "t.conf:4: relayhost: tls: expected implicit, starttls or none, got \"required\"\n" },
		{ "relayhost h.example tls none tls none", "t.conf:4: relayhost: tls given twice\n" },
		{ "relayhost h.example auth me", "t.conf:4: relayhost: expected tls implicit|starttls|none or auth USER PASSWORD_FILE, got \"auth\"\n" },
		{ "relayhost h.example:465 auth a /p auth b /q", "t.conf:4: relayhost: auth given twice\n" },
		{ "relayhost h.example frob", "t.conf:4: relayhost: expected tls implicit|starttls|none or auth USER PASSWORD_FILE, got \"frob\"\n" },
		/* Never a password in plaintext, or to any certificate. */
		{ "relayhost h.example:587 tls none auth me /p", "t.conf:4: relayhost: auth without TLS would send the password in plaintext; use tls implicit or starttls\n" },
		{ "relayhost h.example:587 auth me /p\nrelayhost_tls none", "t.conf:4: relayhost: auth without TLS would send the password in plaintext; use tls implicit or starttls\n" },
		{ "relayhost_tls opportunistic\nrelayhost h.example:587 auth me /p", "t.conf:5: relayhost: auth needs verified TLS, and relayhost_tls opportunistic takes any certificate; use tls implicit or starttls\n" },
		/* One of the two spellings. */
		{ "relayhost h.example tls starttls\nrelayhost_tls required", "t.conf:5: relayhost_tls: the relayhost line (line 4) sets tls already; keep one of them\n" },
		{ "relayhost_tls none\nrelayhost h.example tls none", "t.conf:4: relayhost_tls: the relayhost line (line 5) sets tls already; keep one of them\n" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *text;

		cr_assert(asprintf(&text, BASE "%s\n", rows[i].lines) > 0);
		parse_fails(text, rows[i].error);
		free(text);
	}
}

Test(config, dns_keywords)
{
	static const struct {
		const char *lines, *servers, *anchor;
	} rows[] = {
		{ "dns_resolver 127.0.0.1", "127.0.0.1@53", CONFIG_DNS_TRUST_ANCHOR },
		{ "dns_resolver 127.0.0.1:5353 [::1]:53 [2001:db8::1]",
		  "127.0.0.1@5353 ::1@53 2001:db8::1@53", CONFIG_DNS_TRUST_ANCHOR },
		{ "dns_trust_anchor none", "", NULL },
		{ "dns_trust_anchor keys/anchor.key", "", "/base/keys/anchor.key" },
		{ "dns_trust_anchor /etc/kantorpos/ds.key\ndns_resolver 192.0.2.53:1053",
		  "192.0.2.53@1053", "/etc/kantorpos/ds.key" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct config *cfg;
		char *text, joined[256] = "";

		cr_assert(asprintf(&text, BASE "%s\n", rows[i].lines) > 0);
		cfg = parse_ok(text);
		for (size_t k = 0; k < cfg->n_dns_resolver; k++)
			snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined),
				 "%s%s", k > 0 ? " " : "", cfg->dns_resolver[k]);
		cr_expect_str_eq(joined, rows[i].servers, "%s", rows[i].lines);
		if (rows[i].anchor == NULL)
			cr_expect_null(cfg->dns_trust_anchor, "%s", rows[i].lines);
		else
			cr_expect_str_eq(cfg->dns_trust_anchor, rows[i].anchor, "%s",
					 rows[i].lines);
		config_free(cfg);
		free(text);
	}
}

Test(config, relative_paths_in_the_pure_parser)
{
	static const struct {
		const char *name, *base, *value, *expected;
	} rows[] = {
		{ "t.conf", "/etc/kp", "users", "/etc/kp/users" },
		{ "t.conf", "/etc/kp/", "users", "/etc/kp/users" },
		{ "t.conf", "/etc/kp", "./db/users", "/etc/kp/db/users" },
		{ "t.conf", "/etc/kp", "../users", "/etc/kp/../users" },
		{ "t.conf", "/etc/kp", "/abs/users", "/abs/users" },
		{ "t.conf", "/", "users", "/users" },
		{ "/srv/kp/k.conf", NULL, "users", "/srv/kp/users" },
		{ "/k.conf", NULL, "users", "/users" },
		{ "conf/k.conf", NULL, "users", "conf/users" },
		{ "k.conf", NULL, "users", "users" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *text, *err = NULL;
		struct config *cfg;

		cr_assert(asprintf(&text, "data_dir /d\nuser_db %s\nlocal_domain x.example\n",
				   rows[i].value) > 0);
		cfg = config_parse(rows[i].name, rows[i].base, text,
				   strlen(text), &err);
		cr_assert_not_null(cfg, "%s", err);
		cr_assert_str_eq(cfg->user_db, rows[i].expected, "row %zu", i);
		config_free(cfg);
		free(text);
	}
}

Test(config, load_resolves_against_the_file_directory)
{
	char *sub = tu_path(dir, "etc");
	char *path = tu_path(sub, "kantorpos.conf");
	char *want_data = tu_path(sub, "data"), *want_users = tu_path(sub, "users");
	char *err = NULL;
	struct config *cfg;

	cr_assert_eq(mkdir(sub, 0700), 0);
	tu_write_file(path, "data_dir data\nuser_db ./users\nlocal_domain x.example\n"
			    "hostname mx.example\n");
	/* Through an absolute name, then a relative one from the parent. */
	cfg = config_load(path, &err);
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_str_eq(cfg->data_dir, want_data);
	cr_assert_str_eq(cfg->user_db, want_users);
	cr_assert_str_eq(cfg->hostname, "mx.example");
	cr_assert_str_eq(cfg->file, path);
	config_free(cfg);

	cr_assert_eq(chdir(dir), 0);
	cfg = config_load("etc/kantorpos.conf", &err);
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_str_eq(cfg->data_dir, want_data);
	cr_assert_str_eq(cfg->file, "etc/kantorpos.conf");
	config_free(cfg);
	free(sub);
	free(path);
	free(want_data);
	free(want_users);
}

Test(config, load_defaults_hostname_to_the_system_name)
{
	char *path = tu_path(dir, "k.conf");
	char host[256] = "", *err = NULL;
	struct config *cfg;

	cr_assert_eq(gethostname(host, sizeof(host) - 1), 0);
	tu_write_file(path, BASE);
	cfg = config_load(path, &err);
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_str_eq(cfg->hostname, host);
	config_free(cfg);
	free(path);
}

Test(config, load_reports_errors_with_the_path)
{
	char *path = tu_path(dir, "k.conf");
	char *missing = tu_path(dir, "none.conf");
	char *expected, *err = NULL;

	tu_write_file(path, BASE "max_recipients 5\n");
	cr_assert_null(config_load(path, &err));
	cr_assert(asprintf(&expected,
			   "%s:4: max_recipients: expected a number from 100 to 100000, got \"5\"\n",
			   path) > 0);
	cr_assert_str_eq(err, expected);
	free(err);
	free(expected);

	cr_assert_null(config_load(missing, &err));
	cr_assert(asprintf(&expected, "%s: cannot read: No such file or directory\n",
			   missing) > 0);
	cr_assert_str_eq(err, expected);
	free(err);
	free(expected);
	free(path);
	free(missing);
}

/* The sample file and the manual page name every keyword. */
Test(config, sample_and_manual_cover_every_keyword)
{
	static const char *const keywords[] = {
		"hostname", "data_dir", "user_db", "aliases", "run_as",
		"log_level", "local_domain", "listen", "tls_cert", "tls_key",
		"max_message_size", "max_recipients", "smtp_line_limit",
		"max_connections", "max_connections_per_ip",
		"bad_command_limit", "smtp_timeout", "pop3_timeout",
		"recipient_delimiter", "quota_bytes", "quota_messages",
		"quota_permanent", "relayhost", "workers", "password_opslimit",
		"password_memlimit", "login_fail_delay", "login_fail_limit",
		"login_fail_window", "local_sender_policy", "trusted_networks",
		"relayhost_domains", "outbound_port", "outbound_helo",
		"outbound_bind", "outbound_tls", "outbound_concurrency",
		"outbound_max_sessions", "outbound_address_limit", "hop_limit",
		"dns_resolver", "dns_trust_anchor", "dkim_max_signatures",
		"drop_dir", "sendmail_domain", "sendmail_trusted_users",
	};
	const char *src = getenv("KANTORPOS_SRCDIR");
	char *sample_path, *man_path, *sample, *man;
	size_t i;

	cr_assert_not_null(src);
	cr_assert(asprintf(&sample_path, "%s/etc/kantorpos.conf", src) > 0);
	cr_assert(asprintf(&man_path, "%s/man/kantorpos.conf.5", src) > 0);
	sample = tu_read_file(sample_path, NULL);
	man = tu_read_file(man_path, NULL);
	cr_assert_not_null(sample);
	cr_assert_not_null(man);
	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		/* Sample: an active or commented-out line. Manual: a .TP entry
		 * as ".BI name ARG", ".B name word..." or "\fBname\fP ...". */
		static const char *const forms[][2] = {
			{ "\n", " " }, { "\n#", " " }, /* sample */
			{ "\n.TP\n.BI ", " " }, { "\n.TP\n.B ", " " },
			{ "\n.TP\n\\fB", "\\fP " }, /* manual */
		};
		bool in_sample = false, in_man = false;
		char *err = NULL, *want, *lone;
		struct config *cfg;
		size_t j;

		for (j = 0; j < sizeof(forms) / sizeof(forms[0]); j++) {
			cr_assert(asprintf(&want, "%s%s%s", forms[j][0],
					   keywords[i], forms[j][1]) > 0);
			if (j < 2)
				in_sample = in_sample || strstr(sample, want);
			else
				in_man = in_man || strstr(man, want);
			free(want);
		}
		cr_assert(in_sample, "sample lacks %s", keywords[i]);
		cr_assert(in_man, "manual lacks an entry for %s", keywords[i]);
		/* And the parser knows it: a lone keyword is a value error,
		 * never "unknown keyword". */
		cr_assert(asprintf(&lone, "%s\n", keywords[i]) > 0);
		cfg = parse(lone, &err);
		cr_assert_null(cfg);
		cr_assert_null(strstr(err, "unknown keyword"), "%s", keywords[i]);
		free(err);
		free(lone);
	}
	free(sample);
	free(man);
	free(sample_path);
	free(man_path);
}

Test(config, value_helpers)
{
	static const struct {
		unsigned long long v;
		const char *size, *duration;
	} fmt[] = {
		{ 0, "0", "0s" },           { 1000, "1000", "1000s" },
		{ 1024, "1K", "1024s" },    { 3600, "3600", "1h" },
		{ 5ULL << 20, "5M", "5242880s" }, { 86400, "86400", "1d" },
		{ 3ULL << 30, "3G", "3221225472s" }, { 90, "90", "90s" },
		{ 120, "120", "2m" },
	};
	static const struct {
		const char *s;
		bool domain, localpart, username;
	} names[] = {
		{ "example.org", true, true, true },
		{ "a-b.c-d", true, true, true },
		{ "xn--bcher-kva.example", true, true, true },
		{ "-a.example", false, true, false },
		{ "a-.example", false, true, true },
		{ "a.example.", false, false, true },
		{ ".a", false, false, true },
		{ "", false, false, false },
		{ "alice+tag", false, true, false },
		{ "a..b", false, false, true },
		{ "a/b", false, false, false },
		{ "o'brien", false, true, false },
	};
	char buf[32], label[70], name[300];
	uint64_t size;
	unsigned long long secs;
	size_t i;

	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		config_format_size(buf, sizeof(buf), fmt[i].v);
		cr_assert_str_eq(buf, fmt[i].size);
		cr_assert_eq(config_parse_size(buf, &size), 0);
		cr_assert_eq(size, fmt[i].v, "size round trip of %s", buf);
		config_format_duration(buf, sizeof(buf), fmt[i].v);
		cr_assert_str_eq(buf, fmt[i].duration);
		cr_assert_eq(config_parse_duration(buf, &secs), 0);
		cr_assert_eq(secs, fmt[i].v, "duration round trip of %s", buf);
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cr_assert_eq(config_is_domain(names[i].s), names[i].domain,
			     "domain \"%s\"", names[i].s);
		cr_assert_eq(config_is_localpart(names[i].s), names[i].localpart,
			     "localpart \"%s\"", names[i].s);
		cr_assert_eq(config_is_username(names[i].s), names[i].username,
			     "username \"%s\"", names[i].s);
	}
	/* Label and name length limits of RFC 1035. */
	memset(label, 'a', 63);
	label[63] = '\0';
	cr_assert(config_is_domain(label));
	label[63] = 'a';
	label[64] = '\0';
	cr_assert_not(config_is_domain(label));
	memset(name, 'a', 253);
	for (i = 50; i < 253; i += 50)
		name[i] = '.';
	name[253] = '\0';
	cr_assert(config_is_domain(name));
	name[253] = 'a';
	name[254] = '\0';
	cr_assert_not(config_is_domain(name));
	cr_assert_eq(config_parse_size("18446744073709551615", &size), 0);
	cr_assert_eq(config_parse_size("18446744073709551616", &size), -1);
	cr_assert_eq(config_parse_size("17179869184G", &size), -1);
	cr_assert_eq(config_parse_duration("", &secs), -1);
	cr_assert_eq(config_parse_duration("5ms", &secs), -1);
}

/* sender rules: local_sender_policy and trusted_networks. */
Test(config, sender_rule_keywords)
{
	static const struct {
		const char *line;
		const char *error;
	} bad[] = {
		{ "local_sender_policy", "local_sender_policy: expected reject or allow" },
		{ "local_sender_policy deny", "local_sender_policy: expected reject or allow, got \"deny\"" },
		{ "local_sender_policy Allow", "local_sender_policy: expected reject or allow, got \"Allow\"" },
		{ "local_sender_policy allow reject", "local_sender_policy: expected reject or allow" },
		{ "trusted_networks", "trusted_networks: expected CIDR,... or none" },
		{ "trusted_networks ,", "trusted_networks: expected CIDR,... or none" },
		{ "trusted_networks 10.0.0.0/33", "trusted_networks: expected ADDRESS[/PREFIX], got \"10.0.0.0/33\"" },
		{ "trusted_networks 192.0.2.0/24,lan", "trusted_networks: expected ADDRESS[/PREFIX], got \"lan\"" },
		{ "trusted_networks none 192.0.2.1", "trusted_networks: expected ADDRESS[/PREFIX], got \"none\"" },
	};
	struct config *cfg = parse_ok(BASE);

	/* Secure defaults: local senders need a login, nobody is trusted. */
	cr_assert_eq(cfg->local_sender_policy, CONFIG_LOCAL_SENDER_REJECT);
	cr_assert_eq(cfg->n_trusted_networks, 0);
	cr_assert(!config_client_trusted(cfg, "127.0.0.1"));
	config_free(cfg);
	cfg = parse_ok(BASE "local_sender_policy allow\n"
		       "trusted_networks 192.0.2.0/24,2001:db8::/32 127.0.0.1\n");
	cr_assert_eq(cfg->local_sender_policy, CONFIG_LOCAL_SENDER_ALLOW);
	cr_assert_eq(cfg->n_trusted_networks, 3);
	cr_assert(config_client_trusted(cfg, "192.0.2.200"));
	cr_assert(config_client_trusted(cfg, "::ffff:192.0.2.1"));
	cr_assert(config_client_trusted(cfg, "2001:db8:1::2"));
	cr_assert(config_client_trusted(cfg, "127.0.0.1"));
	cr_assert(!config_client_trusted(cfg, "127.0.0.2"));
	cr_assert(!config_client_trusted(cfg, "192.0.3.1"));
	cr_assert(!config_client_trusted(cfg, "not-an-address"));
	config_free(cfg);
	cfg = parse_ok(BASE "local_sender_policy reject\ntrusted_networks none\n");
	cr_assert_eq(cfg->local_sender_policy, CONFIG_LOCAL_SENDER_REJECT);
	cr_assert_eq(cfg->n_trusted_networks, 0);
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		line_fails(bad[i].line, bad[i].error);
	parse_fails(BASE "trusted_networks 10.0.0.0/8\ntrusted_networks ::1\n",
		    "t.conf:5: duplicate keyword trusted_networks (already on line 4)\n");
}

/* local submission: drop_dir, sendmail_domain, sendmail_trusted_users. */
Test(config, sendmail_keywords)
{
	static const struct {
		const char *line;
		const char *error;
	} bad[] = {
		{ "sendmail_domain", "sendmail_domain: expected one domain" },
		{ "sendmail_domain a b", "sendmail_domain: expected one domain" },
		{ "sendmail_domain bad..name", "sendmail_domain: expected one domain" },
		{ "sendmail_trusted_users", "sendmail_trusted_users: expected one or more user names" },
		{ "sendmail_trusted_users ok -bad", "sendmail_trusted_users: expected a user name, got \"-bad\"" },
		{ "drop_dir", "drop_dir: expected a value" },
	};
	struct config *cfg = parse_ok(BASE);

	/* Defaults: the spool beside the others, the first local domain,
	 * root and run_as only. */
	cr_assert_str_eq(cfg->drop_dir, LOCALSTATEDIR "/spool/kantorpos/drop");
	cr_assert_str_eq(cfg->sendmail_domain, cfg->domains[0].name);
	cr_assert_eq(cfg->n_sendmail_trusted_users, 0);
	cr_assert(config_sendmail_trusted(cfg, "root"));
	cr_assert(!config_sendmail_trusted(cfg, "nobody"));
	config_free(cfg);
	cfg = parse_ok(BASE "run_as kantorpos\ndrop_dir /srv/drop\n"
		       "sendmail_domain Mail.Example.ORG\n"
		       "sendmail_trusted_users www-data backup\n"
		       "sendmail_trusted_users list\n");
	cr_assert_str_eq(cfg->drop_dir, "/srv/drop");
	cr_assert_str_eq(cfg->sendmail_domain, "mail.example.org");
	cr_assert_eq(cfg->n_sendmail_trusted_users, 3);
	cr_assert(config_sendmail_trusted(cfg, "kantorpos"));
	cr_assert(config_sendmail_trusted(cfg, "www-data"));
	cr_assert(config_sendmail_trusted(cfg, "list"));
	cr_assert(!config_sendmail_trusted(cfg, "www"));
	cr_assert(!config_sendmail_trusted(cfg, "nobody"));
	config_free(cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		line_fails(bad[i].line, bad[i].error);
}

/* config_line: the first line of each keyword, 0 when absent or unknown. */
Test(config, line_of_every_keyword)
{
	static const struct {
		const char *keyword;
		unsigned line;
	} rows[] = {
		{ "data_dir", 2 },     { "user_db", 3 },  { "local_domain", 4 },
		{ "tls_cert", 6 },     { "tls_key", 7 },  { "relayhost", 9 },
		{ "listen", 10 },      { "aliases", 0 },  { "run_as", 0 },
		{ "no_such_keyword", 0 },
	};
	struct config *cfg = parse_ok(
		"# a comment first\n"
		"data_dir /d\n"
		"user_db /u\n"
		"local_domain example.org\n"
		"\n"
		"tls_cert /c.pem\n"
		"tls_key /k.pem\n"
		"local_domain example.net\n"
		"relayhost relay.example.org\n"
		"listen smtp 127.0.0.1:2525\n"
		"listen pop3 127.0.0.1:1100\n");

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		cr_expect_eq(config_line(cfg, rows[i].keyword), rows[i].line,
			     "%s", rows[i].keyword);
	config_free(cfg);
}

/* dkim_max_signatures: its default, a value, its bounds (FILE:LINE). */
Test(config, dkim_max_signatures)
{
	struct config *cfg = parse_ok(BASE);

	cr_assert_eq(cfg->dkim_max_signatures, 5);
	config_free(cfg);
	cfg = parse_ok(BASE "dkim_max_signatures 0\n");
	cr_assert_eq(cfg->dkim_max_signatures, 0);
	config_free(cfg);
	cfg = parse_ok(BASE "dkim_max_signatures 16\n");
	cr_assert_eq(cfg->dkim_max_signatures, 16);
	config_free(cfg);
	line_fails("dkim_max_signatures 17",
		   "dkim_max_signatures: expected a number from 0 to 16, got \"17\"");
	line_fails("dkim_max_signatures many",
		   "dkim_max_signatures: expected a number from 0 to 16, got \"many\"");
}

/* Direct delivery: the defaults, each keyword, its errors, and which
 * domains the relayhost takes. */
Test(config, direct_delivery_keywords)
{
	static const struct {
		const char *line, *error;
	} bad[] = {
		{ "relayhost_domains", "relayhost_domains: expected DOMAIN..." },
		{ "relayhost_domains a_b.example", "relayhost_domains: expected a domain name, got \"a_b.example\"" },
		{ "outbound_port 0", "outbound_port: expected a number from 1 to 65535, got \"0\"" },
		{ "outbound_helo -x-", "outbound_helo: expected a host name, got \"-x-\"" },
		{ "outbound_bind", "outbound_bind: expected ADDRESS [ADDRESS]" },
		{ "outbound_bind host.example", "outbound_bind: expected an IPv4 or IPv6 address, got \"host.example\"" },
		{ "outbound_bind 192.0.2.1 192.0.2.2", "outbound_bind: one address of each family at most, got \"192.0.2.2\" after \"192.0.2.1\"" },
		{ "outbound_tls dnssec", "outbound_tls: expected dane, opportunistic, required or none, got \"dnssec\"" },
		{ "outbound_tls", "outbound_tls: expected dane, opportunistic, required or none" },
		{ "outbound_concurrency 0", "outbound_concurrency: expected a number from 1 to 1000, got \"0\"" },
		{ "outbound_max_sessions 0", "outbound_max_sessions: expected a number from 1 to 100000, got \"0\"" },
		{ "outbound_address_limit 33", "outbound_address_limit: expected a number from 1 to 32, got \"33\"" },
		{ "hop_limit 0", "hop_limit: expected a number from 1 to 10000, got \"0\"" },
	};
	struct config *cfg = parse_ok(BASE);

	cr_assert_eq(cfg->n_relayhost_domains, 0);
	cr_assert_eq(cfg->outbound_port, 25);
	cr_assert_null(cfg->outbound_helo);
	cr_assert_null(cfg->outbound_bind4);
	cr_assert_null(cfg->outbound_bind6);
	cr_assert_eq(cfg->outbound_tls, CONFIG_OUTBOUND_TLS_DANE);
	cr_assert_eq(cfg->outbound_concurrency, 10);
	cr_assert_eq(cfg->outbound_max_sessions, 100);
	cr_assert_eq(cfg->outbound_address_limit, 10);
	cr_assert_eq(cfg->hop_limit, 100);
	cr_assert_not(config_relayhost_takes(cfg, "anywhere.example"),
		      "no relayhost: nothing goes there");
	config_free(cfg);

	cfg = parse_ok(BASE "relayhost smtp.isp.example:587\n"
			    "relayhost_domains Corp.Example\n"
			    "relayhost_domains partner.example other.example\n"
			    "outbound_port 2525\noutbound_helo out.example.org\n"
			    "outbound_bind [2001:db8::25] 192.0.2.25\n"
			    "outbound_tls opportunistic\noutbound_concurrency 2\n"
			    "outbound_max_sessions 7\noutbound_address_limit 4\n"
			    "hop_limit 30\n");
	cr_assert_eq(cfg->n_relayhost_domains, 3);
	cr_assert_str_eq(cfg->relayhost_domains[0], "corp.example");
	cr_assert(config_relayhost_takes(cfg, "corp.example"));
	cr_assert(config_relayhost_takes(cfg, "CORP.example"));
	cr_assert(config_relayhost_takes(cfg, "eu.corp.example"));
	cr_assert(config_relayhost_takes(cfg, "other.example"));
	cr_assert_not(config_relayhost_takes(cfg, "xcorp.example"));
	cr_assert_not(config_relayhost_takes(cfg, "example"));
	cr_assert_not(config_relayhost_takes(cfg, "elsewhere.example"));
	cr_assert_eq(cfg->outbound_port, 2525);
	cr_assert_str_eq(config_outbound_helo(cfg), "out.example.org");
	cr_assert_str_eq(cfg->outbound_bind4, "192.0.2.25");
	cr_assert_str_eq(cfg->outbound_bind6, "2001:db8::25");
	cr_assert_eq(cfg->outbound_tls, CONFIG_OUTBOUND_TLS_OPPORTUNISTIC);
	cr_assert_eq(cfg->outbound_concurrency, 2);
	cr_assert_eq(cfg->outbound_max_sessions, 7);
	cr_assert_eq(cfg->outbound_address_limit, 4);
	cr_assert_eq(cfg->hop_limit, 30);
	config_free(cfg);

	cfg = parse_ok(BASE "hostname mx.example.org\nrelayhost smtp.isp.example\n");
	cr_assert(config_relayhost_takes(cfg, "anywhere.example"),
		  "without relayhost_domains the relayhost takes every domain");
	cr_assert_str_eq(config_outbound_helo(cfg), "mx.example.org");
	config_free(cfg);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		line_fails(bad[i].line, bad[i].error);
}
