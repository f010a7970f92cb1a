/* admin/dkim.c: `kantorpos dkim keygen DOMAIN SELECTOR [--type rsa|ed25519]
 * [--bits N] [--out KEYFILE] [--force]` — a new signing key (RSA, 2048
 * bits unless told, 1024 to 4096; or Ed25519, RFC 8463), its PEM written
 * atomically with mode 0600 as run_as (by default DATA/dkim/DOMAIN.SELECTOR.key),
 * and the TXT record it needs (RFC 6376 §3.6.1) on standard output, in
 * strings of at most 255 octets (RFC 1035 §3.3.14). */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "admin/admin.h"
#include "common/auth/dkim_sign.h"
#include "common/base/fsutil.h"
#include "common/config/config.h"
#include "common/config/config_dkim.h"
#include "common/config/config_value.h"

#define TXT_STRING_MAX 255

struct keygen_opts {
	const char *domain, *selector, *out;
	bool ed25519, force;
	int bits;
};

static void dkim_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] dkim keygen DOMAIN SELECTOR [--type rsa|ed25519]\n"
		"                 [--bits N] [--out KEYFILE] [--force]\n"
		"Make a DKIM signing key: RSA of N bits (2048 unless told, %d to %d)\n"
		"or Ed25519. The private key goes to KEYFILE (default\n"
		"DATA/dkim/DOMAIN.SELECTOR.key), mode 0600, as run_as; an existing\n"
		"file is kept unless --force. Prints the TXT record to publish; use\n"
		"the key with the line \"dkim_sign DOMAIN SELECTOR KEYFILE\".\n",
		CONFIG_DKIM_RSA_MIN, CONFIG_DKIM_RSA_MAX);
}

/* One option with its value; ADM_OK or ADM_USAGE (said why). */
static int keygen_opt(struct keygen_opts *o, const char *opt, const char *val)
{
	char *end;
	long bits;

	if (strcmp(opt, "--type") == 0 && strcmp(val, "rsa") == 0) {
		o->ed25519 = false;
	} else if (strcmp(opt, "--type") == 0 && strcmp(val, "ed25519") == 0) {
		o->ed25519 = true;
	} else if (strcmp(opt, "--bits") == 0) {
		errno = 0;
		bits = strtol(val, &end, 10);
		if (errno != 0 || *end != '\0' || bits < CONFIG_DKIM_RSA_MIN ||
		    bits > CONFIG_DKIM_RSA_MAX) {
			fprintf(stderr, "kantorpos: --bits: expected %d to %d, got \"%s\"\n",
				CONFIG_DKIM_RSA_MIN, CONFIG_DKIM_RSA_MAX, val);
			return ADM_USAGE;
		}
		o->bits = (int)bits;
	} else if (strcmp(opt, "--out") == 0) {
		o->out = val;
	} else {
		fprintf(stderr, "kantorpos: dkim keygen: bad option %s %s\n", opt,
			val);
		return ADM_USAGE;
	}
	return ADM_OK;
}

static int keygen_args(struct keygen_opts *o, int argc, char **argv)
{
	int pos = 0;

	memset(o, 0, sizeof(*o));
	o->bits = 2048;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			o->force = true;
		} else if (strncmp(argv[i], "--", 2) == 0) {
			if (i + 1 == argc ||
			    keygen_opt(o, argv[i], argv[i + 1]) != ADM_OK)
				return ADM_USAGE;
			i++;
		} else if (pos == 0) {
			o->domain = argv[i], pos++;
		} else if (pos == 1) {
			o->selector = argv[i], pos++;
		} else {
			return ADM_USAGE;
		}
	}
	if (pos != 2)
		return ADM_USAGE;
	if (!config_is_domain(o->domain) || !config_is_domain(o->selector)) {
		fprintf(stderr, "kantorpos: dkim keygen: expected a domain and a selector (letters, digits, inner hyphens, dot-separated labels)\n");
		return ADM_DATAERR;
	}
	return ADM_OK;
}

/* The record line, its value cut into strings of TXT_STRING_MAX. */
static void print_record(const struct keygen_opts *o, const char *txt)
{
	size_t len = strlen(txt);
	bool split = len > TXT_STRING_MAX;

	printf("%s._domainkey.%s. IN TXT %s", o->selector, o->domain,
	       split ? "( " : "");
	for (size_t at = 0; at < len; at += TXT_STRING_MAX) {
		size_t n = len - at < TXT_STRING_MAX ? len - at : TXT_STRING_MAX;

		printf("%s\"%.*s\"", at > 0 ? " " : "", (int)n, txt + at);
	}
	printf("%s\n", split ? " )" : "");
}

/* The PEM (PKCS #8) of key into *pem_r (heap), its length returned; 0
 * when it failed. */
static size_t key_pem(EVP_PKEY *key, char **pem_r)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	*pem_r = NULL;
	if (bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0 ||
	    (*pem_r = malloc((size_t)n)) == NULL) {
		BIO_free(bio);
		return 0;
	}
	memcpy(*pem_r, data, (size_t)n);
	BIO_free(bio);
	return (size_t)n;
}

/* Write the key to path, refusing an existing file without --force. */
static int write_key(const struct keygen_opts *o, const char *path,
		     EVP_PKEY *key)
{
	char *pem, *dir = strdup(path), *slash;
	size_t n = key_pem(key, &pem);
	int rc = ADM_OK;

	if (dir != NULL && (slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (fs_mkdir_p(dir, 0700) < 0)
			fprintf(stderr, "kantorpos: %s: %s\n", dir,
				strerror(errno));
	}
	if (n == 0 || dir == NULL) {
		fprintf(stderr, "kantorpos: dkim keygen: cannot encode the key\n");
		rc = ADM_SOFTWARE;
	} else if (!o->force && access(path, F_OK) == 0) {
		fprintf(stderr, "kantorpos: %s exists; keeping it (--force replaces it)\n",
			path);
		rc = ADM_CANTCREAT;
	} else if (fs_write_file_atomic(path, pem, n, 0600) < 0) {
		fprintf(stderr, "kantorpos: %s: %s\n", path, strerror(errno));
		rc = ADM_CANTCREAT;
	}
	if (pem != NULL)
		OPENSSL_cleanse(pem, n);
	free(pem);
	free(dir);
	return rc;
}

static int keygen(struct admin *adm, const struct keygen_opts *o)
{
	struct config *cfg = admin_config(adm);
	EVP_PKEY *key;
	char *path = NULL, *txt;
	int rc;

	if (cfg == NULL)
		return ADM_CONFIG;
	if (admin_run_as(cfg, true) < 0)
		return ADM_CONFIG;
	if (o->out != NULL)
		path = strdup(o->out);
	else if (asprintf(&path, "%s/dkim/%s.%s.key", cfg->data_dir,
			  o->domain, o->selector) < 0)
		path = NULL;
	key = o->ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
			 : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)o->bits);
	txt = key != NULL ? dkim_sign_record(key) : NULL;
	if (path == NULL || txt == NULL) {
		fprintf(stderr, "kantorpos: dkim keygen: cannot make the key\n");
		rc = ADM_SOFTWARE;
	} else if ((rc = write_key(o, path, key)) == ADM_OK) {
		fprintf(stderr, "kantorpos: wrote %s; add: dkim_sign %s %s %s\n",
			path, o->domain, o->selector, path);
		print_record(o, txt);
	}
	free(txt);
	free(path);
	EVP_PKEY_free(key);
	return rc;
}

int admin_cmd_dkim(struct admin *adm, int argc, char **argv)
{
	struct keygen_opts o;
	int rc;

	if (admin_wants_help(argc, argv)) {
		dkim_usage(stdout);
		return ADM_OK;
	}
	if (argc < 2 || strcmp(argv[1], "keygen") != 0) {
		dkim_usage(stderr);
		return ADM_USAGE;
	}
	if ((rc = keygen_args(&o, argc, argv)) != ADM_OK) {
		if (rc == ADM_USAGE)
			dkim_usage(stderr);
		return rc;
	}
	return keygen(adm, &o);
}
