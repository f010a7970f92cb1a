/* admin/dns.c: `kantorpos dns DOMAIN [--check]` — every DNS record a local
 * domain needs, printed ready to paste into its zone (built by
 * admin/dnsrec.c), or looked up and compared (admin/dns_check.c). Reads
 * what the records are made of: the public key of tls_cert for TLSA, and
 * the domain's dkim_sign keys for DKIM (the records keygen printed). */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "admin/admin.h"
#include "admin/dns_check.h"
#include "admin/dnsrec.h"
#include "common/auth/dkim_sign.h"
#include "common/config/config.h"
#include "common/config/config_dkim.h"
#include "common/net/tls.h"

static void dns_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] dns DOMAIN [--check]\n"
		"Print every DNS record DOMAIN (a local_domain) needs, ready to\n"
		"paste into its zone, each with a comment saying what it is for:\n"
		"MX, A/AAAA, SPF, DKIM, DMARC, MTA-STS (and its policy file),\n"
		"TLS-RPT, SRV for submission and POP3, PTR, TLSA. --check looks\n"
		"each up through dns_resolver and prints ok, missing or\n"
		"differs: got ... per record. Exit status: 0 all ok, 1 some\n"
		"missing or different, 75 lookups failed (try again later).\n");
}

static void keys_free(struct dnsrec_dkim *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)keys[i].txt);
}

/* SHA-256 of the SubjectPublicKeyInfo of the first certificate of path
 * (the leaf of the chain), for TLSA 3 1 1 (RFC 6698 §2.1). */
static int spki_sha256(const char *path, uint8_t out[32], char *err,
		       size_t errlen)
{
	unsigned char *der = NULL;
	FILE *f = fopen(path, "r");
	X509 *x;
	int n;

	if (f == NULL) {
		snprintf(err, errlen, "tls_cert %s: %s", path, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		char what[300];

		snprintf(what, sizeof(what), "tls_cert %s", path);
		tls_errstr(what, err, errlen);
		return -1;
	}
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	X509_free(x);
	if (n <= 0) {
		snprintf(err, errlen, "tls_cert %s: no public key", path);
		return -1;
	}
	SHA256(der, (size_t)n, out);
	OPENSSL_free(der);
	return 0;
}

/* The DKIM keys of domain: one per dkim_sign line for it (at most
 * CONFIG_DKIM_KEYS_MAX), each with the TXT of its public key, read from
 * its key file (blocking: a command). Returns how many are in keys (their
 * txt malloc'd: keys_free), or -1 after printing why. */
static int domain_dkim_keys(const struct config *cfg, const char *domain,
			    struct dnsrec_dkim *keys)
{
	char why[512];
	int n = 0;

	for (size_t i = 0; i < cfg->n_dkim && n < CONFIG_DKIM_KEYS_MAX; i++) {
		const struct config_dkim *k = &cfg->dkim[i];
		EVP_PKEY *key;

		if (strcasecmp(k->domain, domain) != 0)
			continue;
		key = config_dkim_read_key(k->keyfile, why, sizeof(why));
		keys[n].selector = k->selector;
		keys[n].txt = key != NULL ? dkim_sign_record(key) : NULL;
		EVP_PKEY_free(key);
		if (keys[n].txt == NULL) {
			fprintf(stderr, "kantorpos: dns: %s:%u: dkim_sign %s: %s "
				"(kantorpos check says more)\n", cfg->file,
				k->line, k->keyfile,
				key != NULL ? "cannot make its record" : why);
			keys_free(keys, (size_t)n);
			return -1;
		}
		n++;
	}
	return n;
}

/* Whether host is domain or a name under it (names in lower case). */
static bool under(const char *host, const char *domain)
{
	size_t h = strlen(host), d = strlen(domain);

	return strcasecmp(host, domain) == 0 ||
	       (h > d && host[h - d - 1] == '.' &&
		strcasecmp(host + h - d, domain) == 0);
}

static void print_records(const struct dnsrec_set *set, const char *domain,
			  const struct config *cfg)
{
	char text[2 * DNSREC_VALUE_MAX + DNSREC_COMMENT_MAX];

	printf("; The DNS records %s needs, for kantorpos on %s.\n"
	       "; Names are absolute: paste the lines into the zone of %s",
	       domain, cfg->hostname, domain);
	if (!under(cfg->hostname, domain))
		printf("\n; (those of %s into its own zone)", cfg->hostname);
	printf(", then check\n; them with kantorpos dns %s --check.\n", domain);
	for (size_t i = 0; i < set->n; i++) {
		/* a blank line before each commented group */
		dnsrec_format(&set->r[i], text, sizeof(text));
		printf("%s%s", set->r[i].comment[0] != '\0' ? "\n" : "", text);
	}
}

/* The domain argument: a local_domain of cfg, or NULL after saying so. */
static const struct config_domain *local_domain(const struct config *cfg,
						const char *name)
{
	const struct config_domain *d = config_find_domain(cfg, name);

	if (d != NULL)
		return d;
	fprintf(stderr, "kantorpos: dns: %s is not a local_domain of %s; name "
		"one of", name, cfg->file);
	for (size_t i = 0; i < cfg->n_domains; i++)
		fprintf(stderr, "%s %s", i > 0 ? "," : "", cfg->domains[i].name);
	fprintf(stderr, ", or add a local_domain line for it\n");
	return NULL;
}

static int run(const struct config *cfg, const char *name, bool check)
{
	struct dnsrec_env env = { .cfg = cfg, .now = time(NULL) };
	const struct config_domain *d = local_domain(cfg, name);
	struct dnsrec_set *set;
	struct dnsrec_dkim keys[CONFIG_DKIM_KEYS_MAX];
	uint8_t spki[32];
	char err[512];
	const char *why;
	int rc, n_keys;

	if (d == NULL)
		return ADM_USAGE;
	env.domain = d->name;
	if (cfg->tls_cert != NULL) {
		if (spki_sha256(cfg->tls_cert, spki, err, sizeof(err)) < 0) {
			fprintf(stderr, "kantorpos: dns: %s (for the TLSA record; "
				"kantorpos check says more)\n", err);
			return ADM_CONFIG;
		}
		env.spki_sha256 = spki;
	}
	if ((n_keys = domain_dkim_keys(cfg, d->name, keys)) < 0)
		return ADM_CONFIG;
	env.dkim = keys;
	env.n_dkim = (size_t)n_keys;
	if ((set = calloc(1, sizeof(*set))) == NULL) {
		fprintf(stderr, "kantorpos: dns: out of memory\n");
		rc = ADM_OSERR;
	} else if (dnsrec_build(&env, set, &why) < 0) {
		fprintf(stderr, "kantorpos: dns: %s: %s\n", d->name, why);
		rc = ADM_CONFIG;
	} else if (check) {
		rc = dns_check_run(cfg, set);
	} else {
		print_records(set, d->name, cfg);
		rc = fflush(stdout) == 0 ? ADM_OK : ADM_IOERR;
	}
	free(set);
	keys_free(keys, env.n_dkim);
	return rc;
}

int admin_cmd_dns(struct admin *adm, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const struct config *cfg;
	bool check = false;
	int opt;

	if (admin_wants_help(argc, argv)) {
		dns_usage(stdout);
		return ADM_OK;
	}
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt != 'C') {
			dns_usage(stderr);
			return ADM_USAGE;
		}
		check = true;
	}
	if (argc - optind != 1) {
		dns_usage(stderr);
		return ADM_USAGE;
	}
	if ((cfg = admin_config(adm)) == NULL)
		return ADM_CONFIG;
	if (admin_run_as(cfg, false) < 0)
		return ADM_CONFIG;
	return run(cfg, argv[optind], check);
}
