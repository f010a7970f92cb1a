/* common/config_keywords.c: the kantorpos.conf keywords that have their own
 * grammar (listeners, local domains, relay host, ...), as table handlers. */
#include "autoconf.h"

#include "common/config_parser.h"
#include "common/config_value.h"

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

void config_kw_relayhost(struct config_parser *p,
			 const struct config_keyword *kw, char **words,
			 size_t n)
{
	struct config_hostport *r = &p->cfg->relayhost;
	enum config_addr addr;
	char *host, *port, *spelled;
	unsigned portnum = 25;

	if (n != 1) {
		config_err(p, p->line, "%s: expected HOST:PORT", kw->name);
		return;
	}
	spelled = config_strdup(p, words[0]);
	if (spelled == NULL)
		return;
	if (config_split_hostport(words[0], &addr, &host, &port) < 0 ||
	    addr == CONFIG_ADDR_ANY) {
		config_err(p, p->line,
			"%s: expected HOST:PORT with HOST a host name, an IPv4 address or [IPv6 address], got \"%s\"",
			kw->name, spelled);
	} else if (port != NULL && config_parse_port(port, &portnum) < 0) {
		config_err(p, p->line,
			"%s: expected a port from 1 to 65535 in \"%s\"",
			kw->name, spelled);
	} else {
		r->host = config_strdup(p, host);
		r->port = portnum;
		r->line = p->line;
	}
	free(spelled);
}

