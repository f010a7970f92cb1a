/* tests/test_config_etrn.c: the ETRN and outbound-queue keywords of
 * kantorpos.conf (etrn_domain, etrn_request, queue_*, outbound_timeout,
 * tls_ca_file, relayhost_tls), their errors, the domain lookup, address
 * ranges, and their presence in the sample file and the manual. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/base/cidr.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "tests/helpers/testutil.h"

#define BASE "data_dir /d\nuser_db /u\nlocal_domain example.org\n"

static struct config *parse(const char *text, char **err_r)
{
	return config_parse("t.conf", "/base", text, strlen(text), err_r);
}

Test(config_etrn, defaults)
{
	char *err = NULL;
	struct config *cfg = parse(BASE, &err);

	cr_assert_not_null(cfg, "%s", err);
	cr_assert_eq(cfg->n_etrn_domains, 0);
	cr_assert_eq(cfg->n_etrn_requests, 0);
	cr_assert_eq(cfg->queue_lifetime, 5 * 86400);
	cr_assert_eq(cfg->queue_retry_min, 300);
	cr_assert_eq(cfg->queue_retry_max, 3600);
	cr_assert_eq(cfg->outbound_timeout, 0);
	cr_assert_null(cfg->tls_ca_file);
	cr_assert_null(cfg->relayhost.host);
	config_free(cfg);
}

Test(config_etrn, full_entries)
{
	char *err = NULL;
	struct config *cfg = parse(
		BASE
		"etrn_domain Backup.TEST deliver_to mx.backup.test:2525 subdomains "
		"allow 192.0.2.0/24,::1 user Office@Example.org,bob@example.org "
		"retry 30m lifetime 2d tls required\n"
		"etrn_domain branch.test deliver_to client tls none\n"
		"etrn_request [::1]:2526 @example.org starttls auth me pw.txt\n"
		"etrn_request isp.test example.org\n"
		"queue_lifetime 4d\nqueue_retry_min 10s\nqueue_retry_max 2h\n"
		"outbound_timeout 5s\ntls_ca_file ca.pem\nrelayhost_tls required\n",
		&err);
	const struct config_etrn_domain *d;

	cr_assert_not_null(cfg, "%s", err);
	cr_assert_eq(cfg->n_etrn_domains, 2);
	d = &cfg->etrn_domains[0];
	cr_assert_str_eq(d->name, "backup.test");
	cr_assert_str_eq(d->deliver_host, "mx.backup.test");
	cr_assert_eq(d->deliver_port, 2525);
	cr_assert(d->subdomains);
	cr_assert_eq(d->n_allow, 2);
	cr_assert(cidr_match(&d->allow[0], "192.0.2.200"));
	cr_assert(cidr_match(&d->allow[1], "::1"));
	cr_assert_eq(d->n_users, 2);
	cr_assert_str_eq(d->users[0], "office@example.org");
	cr_assert_eq(d->retry, 1800);
	cr_assert_eq(d->lifetime, 2 * 86400);
	cr_assert_eq(d->tls, CONFIG_TLS_REQUIRED);
	cr_assert_eq(d->line, 4);
	d = &cfg->etrn_domains[1];
	cr_assert_null(d->deliver_host);
	cr_assert_eq(d->tls, CONFIG_TLS_NONE);
	cr_assert_eq(d->retry, 0);
	cr_assert_eq(d->lifetime, 0);
	cr_assert_eq(cfg->n_etrn_requests, 2);
	cr_assert_str_eq(cfg->etrn_requests[0].host, "::1");
	cr_assert_eq(cfg->etrn_requests[0].port, 2526);
	cr_assert_str_eq(cfg->etrn_requests[0].domain, "@example.org");
	cr_assert(cfg->etrn_requests[0].starttls);
	cr_assert_str_eq(cfg->etrn_requests[0].auth_user, "me");
	cr_assert_str_eq(cfg->etrn_requests[0].password_file, "/base/pw.txt");
	cr_assert_eq(cfg->etrn_requests[1].port, 25);
	cr_assert_not(cfg->etrn_requests[1].starttls);
	cr_assert_null(cfg->etrn_requests[1].auth_user);
	cr_assert_eq(cfg->queue_lifetime, 4 * 86400);
	cr_assert_eq(cfg->queue_retry_min, 10);
	cr_assert_eq(cfg->queue_retry_max, 7200);
	cr_assert_eq(cfg->outbound_timeout, 5);
	cr_assert_str_eq(cfg->tls_ca_file, "/base/ca.pem");
	/* relayhost_tls required: verified STARTTLS to the relayhost. */
	cr_assert_eq(cfg->relayhost.tls, CONFIG_RELAY_STARTTLS);

	cr_assert_eq(config_find_etrn(cfg, "BACKUP.test"), &cfg->etrn_domains[0]);
	cr_assert_eq(config_find_etrn(cfg, "a.b.backup.test"),
		     &cfg->etrn_domains[0]);
	cr_assert_null(config_find_etrn(cfg, "xbackup.test"));
	cr_assert_eq(config_find_etrn(cfg, "branch.test"), &cfg->etrn_domains[1]);
	cr_assert_null(config_find_etrn(cfg, "a.branch.test"));
	config_free(cfg);
}

Test(config_etrn, errors)
{
	static const struct {
		const char *line, *error;
	} rows[] = {
		{ "etrn_domain", "t.conf:4: etrn_domain: expected DOMAIN deliver_to" },
		{ "etrn_domain b.test", "t.conf:4: etrn_domain: b.test: expected deliver_to HOST[:PORT] or deliver_to client\n" },
		{ "etrn_domain b.test deliver_to", "t.conf:4: etrn_domain: deliver_to: expected a value\n" },
		{ "etrn_domain b.test deliver_to *:25", "t.conf:4: etrn_domain: deliver_to: expected HOST[:PORT]" },
		{ "etrn_domain b.test deliver_to h:0", "t.conf:4: etrn_domain: deliver_to: expected HOST[:PORT]" },
		{ "etrn_domain b.test deliver_to client allow 10.0.0.0/33", "t.conf:4: etrn_domain: allow: expected ADDRESS[/PREFIX], got \"10.0.0.0/33\"\n" },
		{ "etrn_domain b.test deliver_to client allow me", "t.conf:4: etrn_domain: allow: expected ADDRESS[/PREFIX], got \"me\"\n" },
		{ "etrn_domain b.test deliver_to client user a/b@x", "t.conf:4: etrn_domain: user: " },
		{ "etrn_domain b.test deliver_to client retry 0", "t.conf:4: etrn_domain: retry: expected a duration from 1s to 30d, got \"0\"\n" },
		{ "etrn_domain b.test deliver_to client lifetime 31d", "t.conf:4: etrn_domain: lifetime: expected a duration from 1m to 30d, got \"31d\"\n" },
		{ "etrn_domain b.test deliver_to client tls maybe", "t.conf:4: etrn_domain: tls: expected opportunistic, required or none, got \"maybe\"\n" },
		{ "etrn_domain b.test deliver_to client tls_pin sha1:00", "t.conf:4: etrn_domain: tls_pin: expected sha256:HEX, got \"sha1:00\"\n" },
		{ "etrn_domain b.test deliver_to client tls required", "t.conf:4: etrn_domain: b.test: tls required with deliver_to client expects tls_pin" },
		{ "etrn_domain b.test deliver_to client frob 1", "t.conf:4: etrn_domain: unknown option \"frob\"\n" },
		{ "etrn_domain example.org deliver_to client", "t.conf:4: etrn_domain: example.org is a local_domain" },
		{ "etrn_domain b.test deliver_to client\netrn_domain B.test deliver_to client", "t.conf:5: etrn_domain: duplicate domain b.test (already on line 4)\n" },
		{ "etrn_request h.test", "t.conf:4: etrn_request: expected HOST[:PORT] DOMAIN" },
		{ "etrn_request h.test bad..name", "t.conf:4: etrn_request: expected a domain or @domain, got \"bad..name\"\n" },
		{ "etrn_request h.test d.test auth me", "t.conf:4: etrn_request: expected starttls or auth USER PASSWORD_FILE, got \"auth\"\n" },
		/* Never a password in plaintext. */
		{ "etrn_request h.test d.test auth me /p", "t.conf:4: etrn_request: auth without starttls would send the password in plaintext; add starttls\n" },
		{ "queue_lifetime 10s", "t.conf:4: queue_lifetime: expected a duration from 1m to 30d, got \"10s\"\n" },
		{ "relayhost_tls sometimes", "t.conf:4: relayhost_tls: expected opportunistic, required or none\n" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *text, *err = NULL;
		struct config *cfg;

		cr_assert(asprintf(&text, BASE "%s\n", rows[i].line) > 0);
		cfg = parse(text, &err);
		cr_assert_null(cfg, "row %zu accepted", i);
		cr_assert_not_null(err);
		cr_assert(strncmp(err, rows[i].error, strlen(rows[i].error)) == 0,
			  "row %zu: got \"%s\"", i, err);
		free(err);
		free(text);
	}
}

Test(config_etrn, cidr_forms)
{
	static const struct {
		const char *range, *addr;
		bool ok, match;
	} rows[] = {
		{ "192.0.2.0/24", "192.0.2.99", true, true },
		{ "192.0.2.0/24", "192.0.3.1", true, false },
		{ "192.0.2.77/24", "192.0.2.1", true, true },
		{ "192.0.2.7", "192.0.2.7", true, true },
		{ "192.0.2.7", "192.0.2.8", true, false },
		{ "192.0.2.0/24", "::ffff:192.0.2.5", true, true },
		{ "0.0.0.0/0", "203.0.113.9", true, true },
		{ "0.0.0.0/0", "::1", true, false },
		{ "2001:db8::/32", "2001:db8:1::5", true, true },
		{ "2001:db8::/32", "2001:db9::5", true, false },
		{ "::1", "::1", true, true },
		{ "::1", "127.0.0.1", true, false },
		{ "10.0.0.0/", NULL, false, false },
		{ "10.0.0.0/x", NULL, false, false },
		{ "10.0.0.0/33", NULL, false, false },
		{ "::/129", NULL, false, false },
		{ "/8", NULL, false, false },
		{ "host.example", NULL, false, false },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cidr c;

		cr_assert_eq(cidr_parse(rows[i].range, &c), rows[i].ok ? 0 : -1,
			     "row %zu", i);
		if (rows[i].ok)
			cr_assert_eq(cidr_match(&c, rows[i].addr), rows[i].match,
				     "row %zu", i);
	}
	struct cidr c;

	cr_assert_eq(cidr_parse("127.0.0.0/8", &c), 0);
	cr_assert_not(cidr_match(&c, "not an address"));
}

/* The sample file and the manual page describe every ETRN keyword. */
Test(config_etrn, documented)
{
	static const char *const keywords[] = {
		"etrn_domain", "etrn_request", "queue_lifetime",
		"queue_retry_min", "queue_retry_max", "outbound_timeout",
		"tls_ca_file", "relayhost_tls",
	};
	const char *src = getenv("KANTORPOS_SRCDIR");
	char *sample_path, *man_path, *sample, *man, *err = NULL;
	struct config *cfg;

	cr_assert_not_null(src, "KANTORPOS_SRCDIR is set by make check");
	cr_assert(asprintf(&sample_path, "%s/etc/kantorpos.conf", src) > 0);
	cr_assert(asprintf(&man_path, "%s/man/kantorpos.conf.5", src) > 0);
	sample = tu_read_file(sample_path, NULL);
	man = tu_read_file(man_path, NULL);
	cr_assert_not_null(sample);
	cr_assert_not_null(man);
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
		char *s1, *s2, *m1, *m2;

		cr_assert(asprintf(&s1, "\n%s ", keywords[i]) > 0);
		cr_assert(asprintf(&s2, "\n#%s ", keywords[i]) > 0);
		cr_assert(asprintf(&m1, "\n.TP\n.BI %s ", keywords[i]) > 0);
		cr_assert(asprintf(&m2, "\n.TP\n.B %s ", keywords[i]) > 0);
		cr_assert(strstr(sample, s1) != NULL || strstr(sample, s2) != NULL,
			  "%s missing from the sample", keywords[i]);
		cr_assert(strstr(man, m1) != NULL || strstr(man, m2) != NULL,
			  "%s missing from the manual", keywords[i]);
		free(s1);
		free(s2);
		free(m1);
		free(m2);
	}
	/* The commented examples parse when enabled. */
	char *text;

	cr_assert(asprintf(&text, BASE
			   "etrn_domain branch.example deliver_to client allow 198.51.100.0/24 user office@example.org\n"
			   "etrn_domain lab.example deliver_to mail.lab.example:25 subdomains allow 192.0.2.7 retry 30m\n"
			   "etrn_request backup-mx.isp.example @example.org starttls auth example password.etrn\n") > 0);
	cr_assert(strstr(sample, "#etrn_domain branch.example deliver_to client allow 198.51.100.0/24 user office@example.org\n") != NULL);
	cfg = parse(text, &err);
	cr_assert_not_null(cfg, "%s", err);
	config_free(cfg);
	free(text);
	free(sample_path);
	free(man_path);
	free(sample);
	free(man);
}

/* deliver_to client[:PORT]: the ETRN client's address, port 25 or PORT. */
Test(config_etrn, deliver_to_client_port)
{
	static const struct {
		const char *line;
		unsigned port; /* 0: refused */
	} rows[] = {
		{ "etrn_domain b.test deliver_to client\n", 25 },
		{ "etrn_domain b.test deliver_to client:2526\n", 2526 },
		{ "etrn_domain b.test deliver_to client:0\n", 0 },
		{ "etrn_domain b.test deliver_to client:x\n", 0 },
		{ "etrn_domain b.test deliver_to clientx:25\n", 25 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[300], *err = NULL;
		struct config *cfg;

		snprintf(text, sizeof(text), BASE "%s", rows[i].line);
		cfg = parse(text, &err);
		if (rows[i].port == 0) {
			cr_assert_null(cfg, "%s", rows[i].line);
			cr_assert_not_null(strstr(err, "client:PORT"), "%s", err);
			free(err);
			continue;
		}
		cr_assert_not_null(cfg, "%s: %s", rows[i].line, err);
		cr_assert_eq(cfg->etrn_domains[0].deliver_port, rows[i].port,
			     "%s", rows[i].line);
		/* "clientx" is a host name, not the keyword. */
		cr_assert_eq(cfg->etrn_domains[0].deliver_host == NULL,
			     strncmp(rows[i].line + 30, "client", 6) == 0 &&
			     rows[i].line[36] != 'x', "%s", rows[i].line);
		config_free(cfg);
	}
}
