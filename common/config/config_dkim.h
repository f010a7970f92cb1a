/* common/config/config_dkim.h: the DKIM signing keys of kantorpos.conf
 * (dkim_sign DOMAIN SELECTOR KEYFILE, one line a key, several a domain):
 * which configured domain signs mail of a From: domain, and loading the
 * keys, which the parse itself never does (it is pure, and programs that
 * do not sign, as kantorpos-sendmail, must not need to read them). */
#ifndef KANTORPOS_COMMON_CONFIG_DKIM_H
#define KANTORPOS_COMMON_CONFIG_DKIM_H

#include <stddef.h>

#include "common/config/config.h"

/* The RSA keys dkim_sign takes: 1024 bits at least (RFC 8301 §3.2), and
 * at most 4096 (the record must fit a DNS answer, RFC 8301 §3.2 asks
 * verifiers for no more). */
#define CONFIG_DKIM_RSA_MIN 1024
#define CONFIG_DKIM_RSA_MAX 4096
/* Keys one domain signs with (dual RSA + Ed25519 is two). */
#define CONFIG_DKIM_KEYS_MAX 4

/* The configured signing domain for mail whose From: domain is `domain`
 * (compared case-insensitively): the most specific one that is domain
 * itself or a parent of it, or NULL when none is. Its keys are the
 * entries of cfg->dkim whose domain is that string. */
const char *config_dkim_domain(const struct config *cfg, const char *domain);

/* Read one private key PEM file (blocking): an RSA key of at least
 * CONFIG_DKIM_RSA_MIN to CONFIG_DKIM_RSA_MAX bits or an Ed25519 key. Returns it, or NULL with
 * the reason in why (size bytes): "cannot read: ...", "no PEM private
 * key in it", "RSA key of 512 bits (1024 to 4096)", "a EC key: expected
 * RSA or Ed25519". */
struct evp_pkey_st *config_dkim_read_key(const char *path, char *why,
					 size_t size);

/* Load the key of every dkim_sign line into cfg->dkim[i].key (blocking,
 * as the user that will sign). Returns 0, or -1 with one line for each
 * key that failed in *err_r ("FILE:LINE: dkim_sign KEYFILE: reason\n",
 * caller frees; NULL only when out of memory); the keys that loaded stay
 * loaded. */
int config_dkim_load(struct config *cfg, char **err_r);

#endif
