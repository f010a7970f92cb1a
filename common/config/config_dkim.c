/* common/config/config_dkim.c: the dkim_sign keyword (its domain, its
 * selector, RFC 6376 §3.1: sub-domains joined by dots, and its key file),
 * the choice of the signing domain for a From: domain, and reading the
 * keys (RSA of 1024 bits or more, RFC 8301 §3.2; Ed25519, RFC 8463). */
#include "autoconf.h"

#include "common/config/config_dkim.h"
#include "common/config/config_parser.h"
#include "common/config/config_value.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

/* The key record's name, SELECTOR._domainkey.DOMAIN, must be a name. */
#define DKIM_NAME_MAX 253

void config_kw_dkim_sign(struct config_parser *p,
			 const struct config_keyword *kw, char **words,
			 size_t n)
{
	struct config *cfg = p->cfg;
	struct config_dkim *grown, *e;

	if (n != 3) {
		config_err(p, p->line, "%s: expected DOMAIN SELECTOR KEYFILE",
			   kw->name);
		return;
	}
	if (!config_is_domain(words[0])) {
		config_err(p, p->line, "%s: expected a domain, got \"%s\"",
			   kw->name, words[0]);
		return;
	}
	/* A selector is sub-domains joined by dots: a host name's syntax. */
	if (!config_is_domain(words[1]) ||
	    strlen(words[1]) + strlen("._domainkey.") + strlen(words[0]) >
		    DKIM_NAME_MAX) {
		config_err(p, p->line,
			   "%s: expected a selector (letters, digits, inner hyphens, dot-separated labels), got \"%s\"",
			   kw->name, words[1]);
		return;
	}
	for (size_t i = 0, same = 0; i < cfg->n_dkim; i++)
		if (strcasecmp(cfg->dkim[i].domain, words[0]) == 0 &&
		    ++same == CONFIG_DKIM_KEYS_MAX) {
			config_err(p, p->line, "%s: at most %d keys for %s",
				   kw->name, CONFIG_DKIM_KEYS_MAX, words[0]);
			return;
		}
	grown = realloc(cfg->dkim, (cfg->n_dkim + 1) * sizeof(*grown));
	if (grown == NULL) {
		p->oom = true;
		return;
	}
	cfg->dkim = grown;
	e = &cfg->dkim[cfg->n_dkim++];
	memset(e, 0, sizeof(*e));
	e->line = p->line;
	e->domain = config_strdup(p, words[0]);
	for (char *q = e->domain; q != NULL && *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	e->selector = config_strdup(p, words[1]);
	e->keyfile = config_resolve_path(p, words[2]);
}

void config_dkim_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_dkim; i++) {
		free(cfg->dkim[i].domain);
		free(cfg->dkim[i].selector);
		free(cfg->dkim[i].keyfile);
		EVP_PKEY_free(cfg->dkim[i].key);
	}
	free(cfg->dkim);
}

/* Is domain d (length dl) sub or sub's parent, at a label border? */
static bool covers(const char *d, size_t dl, const char *sub)
{
	size_t sl = strlen(sub);

	if (sl < dl || strcasecmp(sub + sl - dl, d) != 0)
		return false;
	return sl == dl || sub[sl - dl - 1] == '.';
}

const char *config_dkim_domain(const struct config *cfg, const char *domain)
{
	const char *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < cfg->n_dkim; i++) {
		const char *d = cfg->dkim[i].domain;
		size_t dl = strlen(d);

		if (dl > best_len && covers(d, dl, domain)) {
			best = d;
			best_len = dl;
		}
	}
	return best;
}

/* Is key a kind dkim_sign takes? If not, why goes into why. */
static bool key_usable(EVP_PKEY *key, char *why, size_t size)
{
	int bits;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
		return true;
	case EVP_PKEY_RSA:
		bits = EVP_PKEY_get_bits(key);
		if (bits >= CONFIG_DKIM_RSA_MIN && bits <= CONFIG_DKIM_RSA_MAX)
			return true;
		snprintf(why, size, "RSA key of %d bits (%d to %d)", bits,
			 CONFIG_DKIM_RSA_MIN, CONFIG_DKIM_RSA_MAX);
		return false;
	default:
		snprintf(why, size, "a %s key: expected RSA or Ed25519",
			 EVP_PKEY_get0_type_name(key) != NULL
				 ? EVP_PKEY_get0_type_name(key)
				 : "unknown");
		return false;
	}
}

EVP_PKEY *config_dkim_read_key(const char *path, char *why, size_t size)
{
	FILE *fp = fopen(path, "re");
	EVP_PKEY *key;

	if (fp == NULL) {
		snprintf(why, size, "cannot read: %s", strerror(errno));
		return NULL;
	}
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (key == NULL) {
		snprintf(why, size, "no PEM private key in it");
		return NULL;
	}
	if (!key_usable(key, why, size)) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* Append one line to the heap text *t. */
static void add_line(char **t, bool *oom, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_line(char **t, bool *oom, const char *fmt, ...)
{
	char *line, *joined;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (line == NULL || asprintf(&joined, "%s%s", *t != NULL ? *t : "",
				     line) < 0) {
		free(line);
		*oom = true;
		return;
	}
	free(line);
	free(*t);
	*t = joined;
}

int config_dkim_load(struct config *cfg, char **err_r)
{
	char why[256];
	bool oom = false;

	*err_r = NULL;
	for (size_t i = 0; i < cfg->n_dkim; i++) {
		struct config_dkim *e = &cfg->dkim[i];

		if (e->key != NULL)
			continue;
		e->key = config_dkim_read_key(e->keyfile, why, sizeof(why));
		if (e->key == NULL)
			add_line(err_r, &oom, "%s:%u: dkim_sign %s: %s\n",
				 cfg->file, e->line, e->keyfile, why);
	}
	if (oom) {
		free(*err_r);
		*err_r = NULL;
		return -1;
	}
	return *err_r != NULL ? -1 : 0;
}
