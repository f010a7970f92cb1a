/* common/config/config_relay.c: the relay host of kantorpos.conf — the
 * "relayhost HOST[:PORT] [tls ...] [auth USER PASSWORD_FILE]" line, the
 * older relayhost_tls keyword folded into it, the TLS default by port and
 * the rule that a password never goes out without verified TLS. */
#include "autoconf.h"

#include "common/config/config_parser.h"
#include "common/config/config_value.h"

#include <stdlib.h>
#include <string.h>

/* RFC 8314 section 3.3: submission over implicit TLS. */
#define RELAY_IMPLICIT_PORT 465

#define RELAY_USAGE "HOST[:PORT] [tls implicit|starttls|none] [auth USER PASSWORD_FILE]"

/* HOST[:PORT] into r; 0, or -1 after reporting. */
static int relay_hostport(struct config_parser *p, const char *kw,
			  char *word, struct config_relayhost *r)
{
	enum config_addr addr;
	char *host, *port, *spelled = config_strdup(p, word);
	unsigned portnum = 25;
	int rc = -1;

	if (spelled == NULL)
		return -1;
	if (config_split_hostport(word, &addr, &host, &port) < 0 ||
	    addr == CONFIG_ADDR_ANY) {
		config_err(p, p->line,
			"%s: expected HOST:PORT with HOST a host name, an IPv4 address or [IPv6 address], got \"%s\"",
			kw, spelled);
	} else if (port != NULL && config_parse_port(port, &portnum) < 0) {
		config_err(p, p->line,
			"%s: expected a port from 1 to 65535 in \"%s\"", kw,
			spelled);
	} else {
		r->host = config_strdup(p, host);
		r->port = portnum;
		rc = r->host != NULL ? 0 : -1;
	}
	free(spelled);
	return rc;
}

/* The relayhost line's own tls words. */
static int relay_tls_word(const char *w, enum config_relay_tls *tls_r)
{
	if (strcmp(w, "implicit") == 0)
		*tls_r = CONFIG_RELAY_IMPLICIT;
	else if (strcmp(w, "starttls") == 0)
		*tls_r = CONFIG_RELAY_STARTTLS;
	else if (strcmp(w, "none") == 0)
		*tls_r = CONFIG_RELAY_NONE;
	else
		return -1;
	return 0;
}

/* One option at words[i] (tls VALUE, auth USER FILE): the words it took,
 * or 0 after reporting. */
static size_t relay_option(struct config_parser *p, const char *kw,
			   char **words, size_t n, size_t i,
			   struct config_relayhost *r)
{
	if (strcmp(words[i], "tls") == 0 && i + 1 < n) {
		if (r->tls_line != 0) {
			config_err(p, p->line, "%s: tls given twice", kw);
			return 0;
		}
		if (relay_tls_word(words[i + 1], &r->tls) < 0) {
			config_err(p, p->line,
				"%s: tls: expected implicit, starttls or none, got \"%s\"",
				kw, words[i + 1]);
			return 0;
		}
		r->tls_line = p->line;
		return 2;
	}
	if (strcmp(words[i], "auth") == 0 && i + 2 < n) {
		if (r->auth_user != NULL) {
			config_err(p, p->line, "%s: auth given twice", kw);
			return 0;
		}
		r->auth_user = config_strdup(p, words[i + 1]);
		r->password_file = config_resolve_path(p, words[i + 2]);
		return 3;
	}
	config_err(p, p->line,
		"%s: expected tls implicit|starttls|none or auth USER PASSWORD_FILE, got \"%s\"",
		kw, words[i]);
	return 0;
}

void config_kw_relayhost(struct config_parser *p,
			 const struct config_keyword *kw, char **words,
			 size_t n)
{
	struct config_relayhost *r = &p->cfg->relayhost;

	if (n == 0) {
		config_err(p, p->line, "%s: expected " RELAY_USAGE, kw->name);
		return;
	}
	if (relay_hostport(p, kw->name, words[0], r) < 0)
		return;
	r->line = p->line;
	for (size_t i = 1, took; i < n; i += took)
		if ((took = relay_option(p, kw->name, words, n, i, r)) == 0)
			return;
}

/* The older keyword: opportunistic, required (STARTTLS, verified) or
 * none. Folded into relayhost.tls; relayhost's own tls option is the
 * newer spelling, and giving both is an error (config_relay_finish). */
void config_kw_relayhost_tls(struct config_parser *p,
			     const struct config_keyword *kw, char **words,
			     size_t n)
{
	enum config_relay_tls *tls = &p->cfg->relayhost.tls;

	if (n == 1 && strcmp(words[0], "opportunistic") == 0)
		*tls = CONFIG_RELAY_OPPORTUNISTIC;
	else if (n == 1 && strcmp(words[0], "required") == 0)
		*tls = CONFIG_RELAY_STARTTLS;
	else if (n == 1 && strcmp(words[0], "none") == 0)
		*tls = CONFIG_RELAY_NONE;
	else
		config_err(p, p->line,
			"%s: expected opportunistic, required or none", kw->name);
}

void config_relay_finish(struct config_parser *p, unsigned legacy)
{
	struct config_relayhost *r = &p->cfg->relayhost;

	if (r->host == NULL)
		return;
	if (r->tls_line != 0 && legacy != 0) {
		config_err(p, legacy,
			"relayhost_tls: the relayhost line (line %u) sets tls already; keep one of them",
			r->line);
		return;
	}
	/* Secure by default: verified TLS, implicit on the submissions port. */
	if (r->tls_line == 0 && legacy == 0)
		r->tls = r->port == RELAY_IMPLICIT_PORT ? CONFIG_RELAY_IMPLICIT
							: CONFIG_RELAY_STARTTLS;
	if (r->auth_user == NULL)
		return;
	if (r->tls == CONFIG_RELAY_NONE)
		config_err(p, r->line,
			"relayhost: auth without TLS would send the password in plaintext; use tls implicit or starttls");
	else if (r->tls == CONFIG_RELAY_OPPORTUNISTIC)
		config_err(p, r->line,
			"relayhost: auth needs verified TLS, and relayhost_tls opportunistic takes any certificate; use tls implicit or starttls");
}

void config_relay_free(struct config *cfg)
{
	free(cfg->relayhost.host);
	free(cfg->relayhost.auth_user);
	free(cfg->relayhost.password_file);
}
