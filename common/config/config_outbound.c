/* common/config/config_outbound.c: the keywords of direct delivery with a
 * grammar of their own — relayhost_domains, outbound_bind, outbound_tls —
 * and what frees their fields. */
#include "autoconf.h"

#include "common/config/config_parser.h"
#include "common/config/config_value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void config_kw_relayhost_domains(struct config_parser *p,
				 const struct config_keyword *kw, char **words,
				 size_t n)
{
	struct config *cfg = p->cfg;

	if (n == 0) {
		config_err(p, p->line, "%s: expected DOMAIN...", kw->name);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char **grown;

		if (!config_is_domain(words[i])) {
			config_err(p, p->line,
				"%s: expected a domain name, got \"%s\"",
				kw->name, words[i]);
			continue;
		}
		for (char *q = words[i]; *q != '\0'; q++)
			*q = (char)tolower((unsigned char)*q);
		grown = realloc(cfg->relayhost_domains,
				(cfg->n_relayhost_domains + 1) * sizeof(*grown));
		if (grown == NULL) {
			p->oom = true;
			return;
		}
		cfg->relayhost_domains = grown;
		grown[cfg->n_relayhost_domains] = config_strdup(p, words[i]);
		if (grown[cfg->n_relayhost_domains] != NULL)
			cfg->n_relayhost_domains++;
	}
}

/* "ADDR" or "[ADDR]" for IPv6: into *slot (4 or 6 by its family). */
static int bind_addr(struct config_parser *p, const struct config_keyword *kw,
		     const char *word)
{
	char buf[64];
	unsigned char bin[16];
	size_t len = strlen(word);
	char **slot;

	if (len >= 2 && word[0] == '[' && word[len - 1] == ']' &&
	    len - 2 < sizeof(buf)) {
		memcpy(buf, word + 1, len - 2);
		buf[len - 2] = '\0';
	} else if (len < sizeof(buf)) {
		memcpy(buf, word, len + 1);
	} else {
		buf[0] = '\0';
	}
	if (inet_pton(AF_INET, buf, bin) == 1)
		slot = &p->cfg->outbound_bind4;
	else if (inet_pton(AF_INET6, buf, bin) == 1)
		slot = &p->cfg->outbound_bind6;
	else {
		config_err(p, p->line,
			"%s: expected an IPv4 or IPv6 address, got \"%s\"",
			kw->name, word);
		return -1;
	}
	if (*slot != NULL) {
		config_err(p, p->line,
			"%s: one address of each family at most, got \"%s\" after \"%s\"",
			kw->name, word, *slot);
		return -1;
	}
	*slot = config_strdup(p, buf);
	return 0;
}

void config_kw_outbound_bind(struct config_parser *p,
			     const struct config_keyword *kw, char **words,
			     size_t n)
{
	if (n != 1 && n != 2) {
		config_err(p, p->line, "%s: expected ADDRESS [ADDRESS]",
			kw->name);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (bind_addr(p, kw, words[i]) < 0)
			return;
}

void config_kw_outbound_tls(struct config_parser *p,
			    const struct config_keyword *kw, char **words,
			    size_t n)
{
	static const struct {
		const char *name;
		enum config_outbound_tls mode;
	} modes[] = {
		{ "dane", CONFIG_OUTBOUND_TLS_DANE },
		{ "opportunistic", CONFIG_OUTBOUND_TLS_OPPORTUNISTIC },
		{ "required", CONFIG_OUTBOUND_TLS_REQUIRED },
		{ "none", CONFIG_OUTBOUND_TLS_NONE },
	};

	for (size_t i = 0; n == 1 && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(words[0], modes[i].name) == 0) {
			p->cfg->outbound_tls = modes[i].mode;
			return;
		}
	}
	config_err(p, p->line,
		"%s: expected dane, opportunistic, required or none%s%s%s",
		kw->name, n == 1 ? ", got \"" : "", n == 1 ? words[0] : "",
		n == 1 ? "\"" : "");
}

void config_outbound_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_relayhost_domains; i++)
		free(cfg->relayhost_domains[i]);
	free(cfg->relayhost_domains);
	free(cfg->outbound_bind4);
	free(cfg->outbound_bind6);
}
