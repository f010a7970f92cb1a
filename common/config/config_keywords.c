/* common/config/config_keywords.c: the kantorpos.conf keywords that have their own
 * grammar (listeners, local domains, ETRN, ...), as table handlers. */
#include "autoconf.h"

#include "common/config/config_parser.h"
#include "common/config/config_value.h"
/* ETRN */
#include "common/mail/address.h"
#include "common/base/cidr.h"
#include "common/net/tls.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool cfg_listen_flag(struct config_parser *p, struct config_listen *l,
			    const char *flag, const char **role_word);

void config_kw_log_level(struct config_parser *p,
			 const struct config_keyword *kw, char **words,
			 size_t n)
{
	int level = n == 1 ? log_level_parse(words[0]) : -1;

	if (level < 0) {
		config_err(p, p->line,
			"%s: expected one of error, warn, info, debug%s%s%s",
			kw->name, n ? ", got \"" : "", n ? words[0] : "",
			n ? "\"" : "");
		return;
	}
	p->cfg->log_level = (enum log_level)level;
}

void config_kw_local_domain(struct config_parser *p,
			    const struct config_keyword *kw, char **words,
			    size_t n)
{
	struct config *cfg = p->cfg;
	struct config_domain *d, *grown;
	char *q;
	size_t i;

	if (n != 1 && n != 3) {
		config_err(p, p->line, "%s: expected DOMAIN [catchall LOCALPART]",
			kw->name);
		return;
	}
	if (!config_is_domain(words[0])) {
		config_err(p, p->line, "%s: expected a domain name, got \"%s\"",
			kw->name, words[0]);
		return;
	}
	if (n == 3 && strcmp(words[1], "catchall") != 0) {
		config_err(p, p->line, "%s: expected \"catchall\", got \"%s\"",
			kw->name, words[1]);
		return;
	}
	if (n == 3 && !config_is_localpart(words[2])) {
		config_err(p, p->line, "%s: catchall: expected a local part, got \"%s\"",
			kw->name, words[2]);
		return;
	}
	for (q = words[0]; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	for (i = 0; i < cfg->n_domains; i++) {
		if (strcmp(cfg->domains[i].name, words[0]) == 0) {
			config_err(p, p->line,
				"%s: duplicate domain %s (already on line %u)",
				kw->name, words[0], cfg->domains[i].line);
			return;
		}
	}
	grown = realloc(cfg->domains, (cfg->n_domains + 1) * sizeof(*grown));
	if (grown == NULL) {
		p->oom = true;
		return;
	}
	cfg->domains = grown;
	d = &cfg->domains[cfg->n_domains++];
	memset(d, 0, sizeof(*d));
	d->line = p->line;
	d->name = config_strdup(p, words[0]);
	if (n == 3)
		d->catchall = config_strdup(p, words[2]);
}

/* Apply one listen flag to l; false (after reporting) when it is bad. */
static bool cfg_listen_flag(struct config_parser *p, struct config_listen *l,
			    const char *flag, const char **role_word)
{
	static const struct {
		const char *name;
		enum config_role role;
	} roles[] = {
		{ "mx", CONFIG_ROLE_MX },
		{ "submission", CONFIG_ROLE_SUBMISSION },
		{ "submissions", CONFIG_ROLE_SUBMISSIONS },
	};
	size_t i;

	if (strcmp(flag, "tls") == 0 || strcmp(flag, "plaintext-ok") == 0) {
		bool *b = flag[0] == 't' ? &l->tls : &l->plaintext_ok;

		if (*b) {
			config_err(p, p->line, "listen: flag %s given twice", flag);
			return false;
		}
		*b = true;
		return true;
	}
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(flag, roles[i].name) != 0)
			continue;
		if (l->proto == CONFIG_PROTO_POP3) {
			config_err(p, p->line,
				"listen: pop3 takes no role flag, got \"%s\"",
				flag);
			return false;
		}
		if (*role_word != NULL) {
			config_err(p, p->line,
				"listen: expected one role of mx, submission, submissions, got \"%s\" and \"%s\"",
				*role_word, flag);
			return false;
		}
		*role_word = flag;
		l->role = roles[i].role;
		return true;
	}
	config_err(p, p->line, "listen: unknown flag \"%s\"", flag);
	return false;
}

void config_kw_listen(struct config_parser *p,
		      const struct config_keyword *kw, char **words,
		      size_t n)
{
	struct config *cfg = p->cfg;
	struct config_listen l, *grown;
	const char *role_word = NULL;
	char *host, *port, *spelled;
	bool ok = true;
	size_t i;

	memset(&l, 0, sizeof(l));
	if (n < 2) {
		config_err(p, p->line,
			"%s: expected smtp|pop3 ADDRESS:PORT [flag...]",
			kw->name);
		return;
	}
	if (strcmp(words[0], "smtp") == 0) {
		l.proto = CONFIG_PROTO_SMTP;
		l.role = CONFIG_ROLE_MX;
	} else if (strcmp(words[0], "pop3") == 0) {
		l.proto = CONFIG_PROTO_POP3;
		l.role = CONFIG_ROLE_NONE;
	} else {
		config_err(p, p->line, "%s: expected smtp or pop3, got \"%s\"",
			kw->name, words[0]);
		return;
	}
	spelled = config_strdup(p, words[1]);
	if (spelled == NULL)
		return;
	if (config_split_hostport(words[1], &l.addr, &host, &port) < 0) {
		config_err(p, p->line,
			"%s: expected ADDRESS:PORT with ADDRESS an IPv4 address, [IPv6 address], * or a host name, got \"%s\"",
			kw->name, spelled);
		ok = false;
	} else if (config_parse_port(port, &l.port) < 0) {
		config_err(p, p->line,
			"%s: expected a port from 1 to 65535 in \"%s\"",
			kw->name, spelled);
		ok = false;
	}
	for (i = 2; i < n; i++)
		if (!cfg_listen_flag(p, &l, words[i], &role_word))
			ok = false;
	if (!ok) {
		free(spelled);
		return;
	}
	if (l.role == CONFIG_ROLE_SUBMISSIONS)
		l.tls = true;
	for (i = 0; i < cfg->n_listeners; i++) {
		const struct config_listen *o = &cfg->listeners[i];

		if (o->port == l.port && o->addr == l.addr &&
		    (l.addr == CONFIG_ADDR_ANY ||
		     strcasecmp(o->host, host) == 0)) {
			config_err(p, p->line,
				"%s: duplicate address %s (already on line %u)",
				kw->name, spelled, o->line);
			free(spelled);
			return;
		}
	}
	free(spelled);
	grown = realloc(cfg->listeners,
			(cfg->n_listeners + 1) * sizeof(*grown));
	if (grown == NULL) {
		p->oom = true;
		return;
	}
	cfg->listeners = grown;
	l.line = p->line;
	if (l.addr != CONFIG_ADDR_ANY)
		l.host = config_strdup(p, host);
	cfg->listeners[cfg->n_listeners++] = l;
}

void config_kw_recipient_delimiter(struct config_parser *p,
				   const struct config_keyword *kw, char **words,
				   size_t n)
{
	const char *q;

	if (n != 1) {
		config_err(p, p->line, "%s: expected CHARS or none", kw->name);
		return;
	}
	if (strcmp(words[0], "none") == 0) {
		free(p->cfg->recipient_delimiter);
		p->cfg->recipient_delimiter = config_strdup(p, "");
		return;
	}
	/* Characters that can appear in a local part but not at its edges
	 * or as the domain separator. */
	for (q = words[0]; *q != '\0'; q++) {
		if (strchr("+-_=%&~!$^*?{}|", *q) == NULL) {
			config_err(p, p->line,
				"%s: expected characters from +-_=%%&~!$^*?{}| or none, got \"%s\"",
				kw->name, words[0]);
			return;
		}
	}
	free(p->cfg->recipient_delimiter);
	p->cfg->recipient_delimiter = config_strdup(p, words[0]);
}

/* ETRN */

/* Parse "HOST[:PORT]" (PORT defaulting to def) for keyword kw; 0 or -1
 * after reporting. host_r is a copy. */
static int cfg_etrn_hostport(struct config_parser *p, const char *kw,
			     char *word, unsigned def, char **host_r,
			     unsigned *port_r)
{
	enum config_addr addr;
	char *host, *port, *spelled = config_strdup(p, word);

	if (spelled == NULL)
		return -1;
	*port_r = def;
	if (config_split_hostport(word, &addr, &host, &port) < 0 ||
	    addr == CONFIG_ADDR_ANY ||
	    (port != NULL && config_parse_port(port, port_r) < 0)) {
		config_err(p, p->line,
			"%s: expected HOST[:PORT] with HOST a host name, an IPv4 address or [IPv6 address], got \"%s\"",
			kw, spelled);
		free(spelled);
		return -1;
	}
	free(spelled);
	*host_r = config_strdup(p, host);
	return *host_r != NULL ? 0 : -1;
}

static int cfg_tls_mode(const char *s, enum config_tls_mode *m_r)
{
	if (strcmp(s, "opportunistic") == 0)
		*m_r = CONFIG_TLS_OPPORTUNISTIC;
	else if (strcmp(s, "required") == 0)
		*m_r = CONFIG_TLS_REQUIRED;
	else if (strcmp(s, "none") == 0)
		*m_r = CONFIG_TLS_NONE;
	else
		return -1;
	return 0;
}

/* "CIDR,CIDR..." appended to *arr (*n entries); what names the list in
 * errors. 0, or -1 after reporting. */
static int cfg_cidr_list(struct config_parser *p, const char *what, char *list,
			 struct cidr **arr, size_t *n)
{
	for (char *save = NULL, *w = strtok_r(list, ",", &save); w != NULL;
	     w = strtok_r(NULL, ",", &save)) {
		struct cidr c, *grown;

		if (cidr_parse(w, &c) < 0) {
			config_err(p, p->line,
				"%s: expected ADDRESS[/PREFIX], got \"%s\"", what,
				w);
			return -1;
		}
		grown = realloc(*arr, (*n + 1) * sizeof(*grown));
		if (grown == NULL) {
			p->oom = true;
			return -1;
		}
		*arr = grown;
		grown[(*n)++] = c;
	}
	return 0;
}

/* "allow CIDR,CIDR..." into d. */
static int cfg_etrn_allow(struct config_parser *p, struct config_etrn_domain *d,
			  char *list)
{
	return cfg_cidr_list(p, "etrn_domain: allow", list, &d->allow,
			     &d->n_allow);
}

/* "user NAME,NAME..." into d, as mailbox keys. */
static int cfg_etrn_users(struct config_parser *p, struct config_etrn_domain *d,
			  char *list)
{
	for (char *save = NULL, *w = strtok_r(list, ",", &save); w != NULL;
	     w = strtok_r(NULL, ",", &save)) {
		char key[ADDR_KEY_SIZE], **grown;
		const char *why = NULL;

		if (addr_key_from_string(w, key, sizeof(key), &why) < 0) {
			config_err(p, p->line, "etrn_domain: user: %s: \"%s\"",
				why != NULL ? why : "expected a user name", w);
			return -1;
		}
		grown = realloc(d->users, (d->n_users + 1) * sizeof(*grown));
		if (grown == NULL) {
			p->oom = true;
			return -1;
		}
		d->users = grown;
		d->users[d->n_users++] = config_strdup(p, key);
	}
	return 0;
}

static void cfg_free_etrn_domain(struct config_etrn_domain *d)
{
	free(d->name);
	free(d->deliver_host);
	free(d->allow);
	for (size_t j = 0; j < d->n_users; j++)
		free(d->users[j]);
	free(d->users);
	free(d->tls_pin);
}

/* One option word pair of etrn_domain; 0, or -1 after reporting. */
static int cfg_etrn_option(struct config_parser *p, struct config_etrn_domain *d,
			   char *key, char *val, bool *have_deliver)
{
	unsigned long long v;
	unsigned char fp[32];

	if (strcmp(key, "deliver_to") == 0) {
		*have_deliver = true;
		/* "client" or "client:PORT": the address that issued ETRN. */
		if (strncmp(val, "client", 6) == 0 &&
		    (val[6] == '\0' || val[6] == ':')) {
			d->deliver_port = 25;
			if (val[6] == ':' &&
			    config_parse_port(val + 7, &d->deliver_port) < 0) {
				config_err(p, p->line,
					"etrn_domain: deliver_to: expected client:PORT with a port from 1 to 65535, got \"%s\"",
					val);
				return -1;
			}
			return 0;
		}
		return cfg_etrn_hostport(p, "etrn_domain: deliver_to", val, 25,
					 &d->deliver_host, &d->deliver_port);
	}
	if (strcmp(key, "allow") == 0)
		return cfg_etrn_allow(p, d, val);
	if (strcmp(key, "user") == 0)
		return cfg_etrn_users(p, d, val);
	if (strcmp(key, "retry") == 0 || strcmp(key, "lifetime") == 0) {
		bool retry = key[0] == 'r';

		if (config_parse_duration(val, &v) < 0 || v < (retry ? 1 : 60) ||
		    v > 30 * 86400) {
			config_err(p, p->line,
				"etrn_domain: %s: expected a duration from %s to 30d, got \"%s\"",
				key, retry ? "1s" : "1m", val);
			return -1;
		}
		*(retry ? &d->retry : &d->lifetime) = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "tls") == 0) {
		if (cfg_tls_mode(val, &d->tls) == 0)
			return 0;
		config_err(p, p->line,
			"etrn_domain: tls: expected opportunistic, required or none, got \"%s\"",
			val);
		return -1;
	}
	if (strcmp(key, "tls_pin") == 0) {
		if (tls_fp_parse(val, fp) < 0) {
			config_err(p, p->line,
				"etrn_domain: tls_pin: expected sha256:HEX, got \"%s\"",
				val);
			return -1;
		}
		free(d->tls_pin);
		d->tls_pin = config_strdup(p, val);
		return 0;
	}
	config_err(p, p->line, "etrn_domain: unknown option \"%s\"", key);
	return -1;
}

void config_kw_etrn_domain(struct config_parser *p,
			   const struct config_keyword *kw, char **words,
			   size_t n)
{
	struct config *cfg = p->cfg;
	struct config_etrn_domain d, *grown;
	bool have_deliver = false;
	size_t i;

	memset(&d, 0, sizeof(d));
	if (n < 1 || !config_is_domain(words[0])) {
		config_err(p, p->line,
			"%s: expected DOMAIN deliver_to HOST[:PORT]|client [subdomains] [allow CIDR,...] [user NAME,...] [retry DURATION] [lifetime DURATION] [tls MODE] [tls_pin PIN]",
			kw->name);
		return;
	}
	for (char *q = words[0]; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	for (i = 1; i < n; i++) {
		if (strcmp(words[i], "subdomains") == 0) {
			d.subdomains = true;
			continue;
		}
		if (i + 1 >= n) {
			config_err(p, p->line, "%s: %s: expected a value",
				kw->name, words[i]);
			goto bad;
		}
		if (cfg_etrn_option(p, &d, words[i], words[i + 1],
				    &have_deliver) < 0)
			goto bad;
		i++;
	}
	if (!have_deliver) {
		config_err(p, p->line,
			"%s: %s: expected deliver_to HOST[:PORT] or deliver_to client",
			kw->name, words[0]);
		goto bad;
	}
	if (d.tls == CONFIG_TLS_REQUIRED && d.deliver_host == NULL &&
	    d.tls_pin == NULL) {
		config_err(p, p->line,
			"%s: %s: tls required with deliver_to client expects tls_pin (there is no name to verify)",
			kw->name, words[0]);
		goto bad;
	}
	for (i = 0; i < cfg->n_etrn_domains; i++) {
		if (strcmp(cfg->etrn_domains[i].name, words[0]) == 0) {
			config_err(p, p->line,
				"%s: duplicate domain %s (already on line %u)",
				kw->name, words[0], cfg->etrn_domains[i].line);
			goto bad;
		}
	}
	if (config_find_domain(cfg, words[0]) != NULL) {
		config_err(p, p->line,
			"%s: %s is a local_domain; mail for it is delivered here",
			kw->name, words[0]);
		goto bad;
	}
	grown = realloc(cfg->etrn_domains,
			(cfg->n_etrn_domains + 1) * sizeof(*grown));
	if (grown == NULL) {
		p->oom = true;
		goto bad;
	}
	cfg->etrn_domains = grown;
	d.name = config_strdup(p, words[0]);
	d.line = p->line;
	cfg->etrn_domains[cfg->n_etrn_domains++] = d;
	return;
bad:
	cfg_free_etrn_domain(&d);
}

static void cfg_free_etrn_request(struct config_etrn_request *r)
{
	free(r->host);
	free(r->domain);
	free(r->auth_user);
	free(r->password_file);
}

void config_kw_etrn_request(struct config_parser *p,
			    const struct config_keyword *kw, char **words,
			    size_t n)
{
	struct config *cfg = p->cfg;
	struct config_etrn_request r, *grown;
	const char *dom;
	size_t i;

	memset(&r, 0, sizeof(r));
	if (n < 2) {
		config_err(p, p->line,
			"%s: expected HOST[:PORT] DOMAIN [starttls] [auth USER PASSWORD_FILE]",
			kw->name);
		return;
	}
	dom = words[1][0] == '@' ? words[1] + 1 : words[1];
	if (!config_is_domain(dom)) {
		config_err(p, p->line,
			"%s: expected a domain or @domain, got \"%s\"", kw->name,
			words[1]);
		return;
	}
	if (cfg_etrn_hostport(p, kw->name, words[0], 25, &r.host, &r.port) < 0)
		return;
	r.domain = config_strdup(p, words[1]);
	for (i = 2; i < n; i++) {
		if (strcmp(words[i], "starttls") == 0) {
			r.starttls = true;
		} else if (strcmp(words[i], "auth") == 0 && i + 2 < n &&
			   r.auth_user == NULL) {
			r.auth_user = config_strdup(p, words[i + 1]);
			r.password_file = config_resolve_path(p, words[i + 2]);
			i += 2;
		} else {
			config_err(p, p->line,
				"%s: expected starttls or auth USER PASSWORD_FILE, got \"%s\"",
				kw->name, words[i]);
			goto bad;
		}
	}
	/* The password never goes out without verified TLS. */
	if (r.auth_user != NULL && !r.starttls) {
		config_err(p, p->line,
			"%s: auth without starttls would send the password in plaintext; add starttls",
			kw->name);
		goto bad;
	}
	grown = realloc(cfg->etrn_requests,
			(cfg->n_etrn_requests + 1) * sizeof(*grown));
	if (grown == NULL) {
		p->oom = true;
		goto bad;
	}
	cfg->etrn_requests = grown;
	r.line = p->line;
	cfg->etrn_requests[cfg->n_etrn_requests++] = r;
	return;
bad:
	cfg_free_etrn_request(&r);
}

void config_free_etrn(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_etrn_domains; i++)
		cfg_free_etrn_domain(&cfg->etrn_domains[i]);
	free(cfg->etrn_domains);
	for (size_t i = 0; i < cfg->n_etrn_requests; i++)
		cfg_free_etrn_request(&cfg->etrn_requests[i]);
	free(cfg->etrn_requests);
}



/* sender rules */

void config_kw_local_sender_policy(struct config_parser *p,
				   const struct config_keyword *kw,
				   char **words, size_t n)
{
	if (n == 1 && strcmp(words[0], "reject") == 0)
		p->cfg->local_sender_policy = CONFIG_LOCAL_SENDER_REJECT;
	else if (n == 1 && strcmp(words[0], "allow") == 0)
		p->cfg->local_sender_policy = CONFIG_LOCAL_SENDER_ALLOW;
	else if (n == 1)
		config_err(p, p->line, "%s: expected reject or allow, got \"%s\"",
			kw->name, words[0]);
	else
		config_err(p, p->line, "%s: expected reject or allow", kw->name);
}

/* "trusted_networks CIDR,..." (words may also be apart) or "none". */
void config_kw_trusted_networks(struct config_parser *p,
				const struct config_keyword *kw, char **words,
				size_t n)
{
	struct config *cfg = p->cfg;

	if (n == 0) {
		config_err(p, p->line, "%s: expected CIDR,... or none", kw->name);
		return;
	}
	if (n == 1 && strcmp(words[0], "none") == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (cfg_cidr_list(p, kw->name, words[i], &cfg->trusted_networks,
				  &cfg->n_trusted_networks) < 0)
			return;
	if (cfg->n_trusted_networks == 0)
		config_err(p, p->line, "%s: expected CIDR,... or none", kw->name);
}
