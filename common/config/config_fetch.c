/* common/config/config_fetch.c: the "fetch_account" keyword of kantorpos.conf (one
 * remote POP3 mailbox pulled by kantorpos fetch): its option grammar, the
 * checks that need the whole file, and freeing. */
#include "autoconf.h"

#include "common/config/config_parser.h"
#include "common/config/config_value.h"
#include "common/net/tls.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Recipient headers DomainPOP reads when the account names none. */
static const char *const fetch_default_headers[] = {
	"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
	"Received", "To", "Cc", "Resent-To", "Resent-Cc",
};
#define FETCH_N_DEFAULT_HEADERS \
	(sizeof(fetch_default_headers) / sizeof(fetch_default_headers[0]))

#define FETCH_NAME_MAX 64
#define FETCH_MAX_HEADERS 32

/* Defaults of the bounds of a run (kantorpos.conf(5)): with them a server
 * that sends a line a second is dropped within about a minute, and no run
 * holds more than 200,000 messages in memory or lasts more than an hour. */
#define FETCH_MAX_MESSAGES_DEFAULT 200000
#define FETCH_MAX_MESSAGES_MAX 1000000
#define FETCH_MESSAGE_TIMEOUT_DEFAULT 60
#define FETCH_MIN_RATE_DEFAULT 1024
#define FETCH_RUN_TIMEOUT_DEFAULT 3600

/* What an option word takes. */
enum fopt { FO_FLAG, FO_VALUE };

static const struct {
	const char *name;
	enum fopt kind;
} fetch_opts[] = {
	{ "host", FO_VALUE },        { "user", FO_VALUE },
	{ "password_file", FO_VALUE }, { "multipop", FO_VALUE },
	{ "domainpop", FO_VALUE },   { "tls", FO_VALUE },
	{ "ca_file", FO_VALUE },     { "fingerprint", FO_VALUE },
	{ "plaintext-ok", FO_FLAG }, { "auth", FO_VALUE },
	{ "keep", FO_VALUE },        { "keep_days", FO_VALUE },
	{ "max_size", FO_VALUE },    { "oversize", FO_VALUE },
	{ "interval", FO_VALUE },    { "default_recipient", FO_VALUE },
	{ "headers", FO_VALUE },     { "skip_received", FO_VALUE },
	{ "timeout", FO_VALUE },
	{ "max_messages", FO_VALUE }, { "message_timeout", FO_VALUE },
	{ "min_rate", FO_VALUE },    { "run_timeout", FO_VALUE },
};
#define FETCH_N_OPTS (sizeof(fetch_opts) / sizeof(fetch_opts[0]))

static bool fetch_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > FETCH_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
			return false;
	return true;
}

/* A header field name (RFC 5322 ftext, no ':'), at most 64 octets. */
static bool fetch_header_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == ':')
			return false;
	return true;
}

static void fetch_free_one(struct config_fetch *f)
{
	free(f->name);
	free(f->host);
	free(f->user);
	free(f->password_file);
	free(f->target);
	free(f->ca_file);
	free(f->fingerprint);
	free(f->default_recipient);
	for (size_t i = 0; i < f->n_headers; i++)
		free(f->headers[i]);
	free(f->headers);
}

static bool fetch_set_headers(struct config_parser *p, struct config_fetch *f,
			      const char *list)
{
	const char *q = list;

	f->headers = calloc(FETCH_MAX_HEADERS, sizeof(*f->headers));
	if (f->headers == NULL) {
		p->oom = true;
		return false;
	}
	for (;;) {
		size_t len = strcspn(q, ",");

		if (!fetch_header_name_ok(q, len)) {
			config_err(p, p->line,
				"fetch_account: headers: expected header names separated by commas, got \"%s\"",
				list);
			return false;
		}
		for (size_t i = 0; i < f->n_headers; i++) {
			if (strlen(f->headers[i]) == len &&
			    strncasecmp(f->headers[i], q, len) == 0) {
				config_err(p, p->line,
					"fetch_account: headers: %.*s named twice",
					(int)len, q);
				return false;
			}
		}
		if (f->n_headers == FETCH_MAX_HEADERS) {
			config_err(p, p->line,
				"fetch_account: headers: at most %d names",
				FETCH_MAX_HEADERS);
			return false;
		}
		f->headers[f->n_headers] = strndup(q, len);
		if (f->headers[f->n_headers] == NULL) {
			p->oom = true;
			return false;
		}
		f->n_headers++;
		if (q[len] == '\0')
			return true;
		q += len + 1;
	}
}

static bool fetch_duration(struct config_parser *p, const char *opt,
			   const char *v, unsigned long long lo,
			   unsigned long long hi, unsigned *out)
{
	unsigned long long d;

	if (config_parse_duration(v, &d) < 0 || d < lo || d > hi) {
		char a[32], b[32];

		config_format_duration(a, sizeof(a), lo);
		config_format_duration(b, sizeof(b), hi);
		config_err(p, p->line,
			"fetch_account: %s: expected a duration from %s to %s, got \"%s\"",
			opt, a, b, v);
		return false;
	}
	*out = (unsigned)d;
	return true;
}

static bool fetch_number(struct config_parser *p, const char *opt,
			 const char *v, unsigned long long lo,
			 unsigned long long hi, unsigned *out)
{
	unsigned long long n;
	const char *end;

	if (config_parse_number(v, &n, &end) < 0 || *end != '\0' || n < lo ||
	    n > hi) {
		config_err(p, p->line,
			"fetch_account: %s: expected a number from %llu to %llu, got \"%s\"",
			opt, lo, hi, v);
		return false;
	}
	*out = (unsigned)n;
	return true;
}

/* Pick one of the words in `choices` (NULL-terminated); its index or -1. */
static int fetch_choice(struct config_parser *p, const char *opt,
			const char *v, const char *const *choices,
			const char *expected)
{
	for (int i = 0; choices[i] != NULL; i++)
		if (strcmp(v, choices[i]) == 0)
			return i;
	config_err(p, p->line, "fetch_account: %s: expected %s, got \"%s\"", opt,
		expected, v);
	return -1;
}

/* multipop LOCAL@DOMAIN or domainpop DOMAIN, stored in lower case. */
static bool fetch_set_target(struct config_parser *p, struct config_fetch *f,
			     const char *opt, char *v)
{
	bool multi = opt[0] == 'm';
	char *at = strrchr(v, '@');

	if (f->target != NULL) {
		config_err(p, p->line,
			"fetch_account: expected one of multipop and domainpop");
		return false;
	}
	if (multi && (at == NULL || (*at = '\0',
				     !config_is_localpart(v) ||
				     !config_is_domain(at + 1)))) {
		if (at != NULL)
			*at = '@';
		config_err(p, p->line,
			"fetch_account: multipop: expected LOCAL@DOMAIN, got \"%s\"",
			v);
		return false;
	}
	if (multi)
		*at = '@';
	if (!multi && !config_is_domain(v)) {
		config_err(p, p->line,
			"fetch_account: domainpop: expected a domain name, got \"%s\"",
			v);
		return false;
	}
	for (char *q = v; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	f->mode = multi ? CONFIG_FETCH_MULTIPOP : CONFIG_FETCH_DOMAINPOP;
	f->target = config_strdup(p, v);
	return true;
}

/* A size option within lo..hi octets; what names the range in the error. */
static bool fetch_size(struct config_parser *p, const char *opt,
		       const char *v, uint64_t lo, uint64_t hi,
		       const char *what, uint64_t *out)
{
	uint64_t size;

	if (config_parse_size(v, &size) < 0 || size < lo || size > hi) {
		config_err(p, p->line,
			"fetch_account: %s: expected %s, got \"%s\"", opt,
			what, v);
		return false;
	}
	*out = size;
	return true;
}

/* The options that take a number, a duration or a size. */
static bool fetch_limit_option(struct config_parser *p,
			       struct config_fetch *f, const char *opt,
			       const char *v)
{
	if (strcmp(opt, "keep_days") == 0)
		return fetch_number(p, opt, v, 0, 36500, &f->keep_days);
	if (strcmp(opt, "max_size") == 0)
		return fetch_size(p, opt, v, 1024, 4ULL * 1024 * 1024 * 1024,
				  "a size from 1K to 4G", &f->max_size);
	if (strcmp(opt, "min_rate") == 0)
		return fetch_size(p, opt, v, 1, 1024ULL * 1024 * 1024,
				  "a size (octets a second) from 1 to 1G",
				  &f->min_rate);
	if (strcmp(opt, "interval") == 0)
		return fetch_duration(p, opt, v, 1, 7 * 86400, &f->interval);
	if (strcmp(opt, "timeout") == 0)
		return fetch_duration(p, opt, v, 1, 3600, &f->timeout);
	if (strcmp(opt, "message_timeout") == 0)
		return fetch_duration(p, opt, v, 1, 3600, &f->message_timeout);
	if (strcmp(opt, "run_timeout") == 0)
		return fetch_duration(p, opt, v, 1, 7 * 86400, &f->run_timeout);
	if (strcmp(opt, "max_messages") == 0)
		return fetch_number(p, opt, v, 1, FETCH_MAX_MESSAGES_MAX,
				    &f->max_messages);
	if (strcmp(opt, "skip_received") == 0)
		return fetch_number(p, opt, v, 0, 100, &f->skip_received);
	return true;
}

/* The options that take one word of a list; the others go on to
 * fetch_limit_option. */
static bool fetch_choice_option(struct config_parser *p,
				struct config_fetch *f, const char *opt,
				const char *v)
{
	static const char *const tls_words[] = { "implicit", "stls", "none",
						 NULL };
	static const char *const auth_words[] = { "any", "plain", "user",
						  "apop", NULL };
	static const char *const yesno[] = { "no", "yes", NULL };
	static const char *const over_words[] = { "skip", "delete", NULL };
	int i;

	if (strcmp(opt, "tls") == 0) {
		if ((i = fetch_choice(p, opt, v, tls_words,
				      "implicit, stls or none")) < 0)
			return false;
		f->tls = (enum config_fetch_tls)i;
	} else if (strcmp(opt, "auth") == 0) {
		if ((i = fetch_choice(p, opt, v, auth_words,
				      "any, plain, user or apop")) < 0)
			return false;
		f->auth = (enum config_fetch_auth)i;
	} else if (strcmp(opt, "keep") == 0) {
		if ((i = fetch_choice(p, opt, v, yesno, "yes or no")) < 0)
			return false;
		f->keep = i == 1;
	} else if (strcmp(opt, "oversize") == 0) {
		if ((i = fetch_choice(p, opt, v, over_words,
				      "skip or delete")) < 0)
			return false;
		f->oversize = (enum config_fetch_oversize)i;
	} else {
		return fetch_limit_option(p, f, opt, v);
	}
	return true;
}

/* Apply one option with its value (NULL for a flag); false after an error.
 * The options this does not handle go on to fetch_choice_option. */
static bool fetch_option(struct config_parser *p, struct config_fetch *f,
			 const char *opt, char *v, char **hostport_r)
{
	unsigned char fp[TLS_FP_LEN];

	if (strcmp(opt, "host") == 0) {
		*hostport_r = v;
	} else if (strcmp(opt, "user") == 0) {
		f->user = config_strdup(p, v);
	} else if (strcmp(opt, "password_file") == 0) {
		f->password_file = config_strdup(p, v);
	} else if (strcmp(opt, "ca_file") == 0) {
		f->ca_file = config_strdup(p, v);
	} else if (strcmp(opt, "multipop") == 0 ||
		   strcmp(opt, "domainpop") == 0) {
		return fetch_set_target(p, f, opt, v);
	} else if (strcmp(opt, "fingerprint") == 0) {
		if (tls_fp_parse(v, fp) < 0) {
			config_err(p, p->line,
				"fetch_account: fingerprint: expected sha256: and 32 hex pairs, got \"%s\"",
				v);
			return false;
		}
		f->fingerprint = config_strdup(p, v);
	} else if (strcmp(opt, "plaintext-ok") == 0) {
		f->plaintext_ok = true;
	} else if (strcmp(opt, "default_recipient") == 0) {
		if (!config_is_localpart(v)) {
			config_err(p, p->line,
				"fetch_account: default_recipient: expected a local part, got \"%s\"",
				v);
			return false;
		}
		free(f->default_recipient);
		f->default_recipient = config_strdup(p, v);
	} else if (strcmp(opt, "headers") == 0) {
		return fetch_set_headers(p, f, v);
	} else {
		return fetch_choice_option(p, f, opt, v);
	}
	return true;
}

/* Checks of one account after all its options were read. */
static bool fetch_check(struct config_parser *p, struct config_fetch *f,
			const unsigned *seen, char *hostport)
{
	static const char *const required[] = { "host", "user",
						"password_file" };
	enum config_addr addr;
	char *host, *port;
	size_t i, j;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		for (j = 0; j < FETCH_N_OPTS; j++)
			if (strcmp(fetch_opts[j].name, required[i]) == 0)
				break;
		if (seen[j] == 0) {
			config_err(p, p->line, "fetch_account: expected %s",
				required[i]);
			return false;
		}
	}
	if (f->target == NULL) {
		config_err(p, p->line,
			"fetch_account: expected multipop LOCAL@DOMAIN or domainpop DOMAIN");
		return false;
	}
	if (f->tls == CONFIG_FETCH_TLS_NONE && !f->plaintext_ok) {
		config_err(p, p->line,
			"fetch_account: tls none sends the password in the clear: add plaintext-ok to allow it");
		return false;
	}
	if (f->ca_file != NULL && f->fingerprint != NULL) {
		config_err(p, p->line,
			"fetch_account: expected one of ca_file and fingerprint");
		return false;
	}
	if (f->keep_days > 0 && !f->keep) {
		config_err(p, p->line, "fetch_account: keep_days expects keep yes");
		return false;
	}
	if (f->mode == CONFIG_FETCH_MULTIPOP &&
	    (f->n_headers > 0 || f->skip_received > 0 ||
	     f->default_recipient != NULL)) {
		config_err(p, p->line,
			"fetch_account: headers, skip_received and default_recipient are for domainpop");
		return false;
	}
	if (config_split_hostport(hostport, &addr, &host, &port) < 0 ||
	    addr == CONFIG_ADDR_ANY) {
		config_err(p, p->line,
			"fetch_account: host: expected HOST[:PORT] with HOST a host name, an IPv4 address or [IPv6 address]");
		return false;
	}
	f->port = f->tls == CONFIG_FETCH_TLS_IMPLICIT ? 995 : 110;
	if (port != NULL && config_parse_port(port, &f->port) < 0) {
		config_err(p, p->line,
			"fetch_account: host: expected a port from 1 to 65535");
		return false;
	}
	f->host = config_strdup(p, host);
	if (f->mode == CONFIG_FETCH_DOMAINPOP && f->default_recipient == NULL)
		f->default_recipient = config_strdup(p, "postmaster");
	if (f->mode == CONFIG_FETCH_DOMAINPOP && f->n_headers == 0) {
		f->headers = calloc(FETCH_N_DEFAULT_HEADERS,
				    sizeof(*f->headers));
		if (f->headers == NULL) {
			p->oom = true;
			return false;
		}
		for (i = 0; i < FETCH_N_DEFAULT_HEADERS; i++)
			f->headers[f->n_headers++] =
				config_strdup(p, fetch_default_headers[i]);
	}
	return true;
}

/* An account with the defaults of kantorpos.conf(5). */
static void fetch_defaults(struct config_fetch *f)
{
	memset(f, 0, sizeof(*f));
	f->interval = 300;
	f->timeout = 300;
	f->max_messages = FETCH_MAX_MESSAGES_DEFAULT;
	f->message_timeout = FETCH_MESSAGE_TIMEOUT_DEFAULT;
	f->min_rate = FETCH_MIN_RATE_DEFAULT;
	f->run_timeout = FETCH_RUN_TIMEOUT_DEFAULT;
}

/* The account's name: well formed and not taken by an earlier account. */
static bool fetch_new_name(struct config_parser *p,
			   const struct config_keyword *kw, char **words,
			   size_t n)
{
	const struct config *cfg = p->cfg;

	if (n < 1 || !fetch_name_ok(words[0])) {
		config_err(p, p->line,
			"%s: expected NAME (letters, digits, '.', '_', '-') and options",
			kw->name);
		return false;
	}
	for (size_t i = 0; i < cfg->n_fetch; i++) {
		if (strcmp(cfg->fetch[i].name, words[0]) == 0) {
			config_err(p, p->line,
				"%s: duplicate account %s (already on line %u)",
				kw->name, words[0], cfg->fetch[i].line);
			return false;
		}
	}
	return true;
}

/* Read the option words after the name into f, counting each option in
 * seen[] (indexed as fetch_opts); false after the first error. */
static bool fetch_read_options(struct config_parser *p,
			       const struct config_keyword *kw,
			       struct config_fetch *f, char **words, size_t n,
			       unsigned *seen, char **hostport_r)
{
	bool ok = true;
	size_t i, j;

	for (i = 1; i < n && ok; i++) {
		for (j = 0; j < FETCH_N_OPTS; j++)
			if (strcmp(words[i], fetch_opts[j].name) == 0)
				break;
		if (j == FETCH_N_OPTS) {
			config_err(p, p->line, "%s: unknown option \"%s\"",
				kw->name, words[i]);
			ok = false;
		} else if (seen[j]++) {
			config_err(p, p->line, "%s: option %s given twice",
				kw->name, words[i]);
			ok = false;
		} else if (fetch_opts[j].kind == FO_FLAG) {
			ok = fetch_option(p, f, words[i], NULL, hostport_r);
		} else if (i + 1 == n) {
			config_err(p, p->line, "%s: %s: expected a value",
				kw->name, words[i]);
			ok = false;
		} else {
			ok = fetch_option(p, f, words[i], words[i + 1],
					  hostport_r);
			i++;
		}
	}
	return ok;
}

/* A path option made absolute against the config file's folder. */
static void fetch_resolve(struct config_parser *p, char **path)
{
	char *abs;

	if (*path == NULL)
		return;
	abs = config_resolve_path(p, *path);
	free(*path);
	*path = abs;
}

void config_kw_fetch_account(struct config_parser *p,
			     const struct config_keyword *kw, char **words,
			     size_t n)
{
	struct config *cfg = p->cfg;
	struct config_fetch f, *grown;
	unsigned seen[FETCH_N_OPTS] = { 0 };
	char *hostport = NULL;

	fetch_defaults(&f);
	if (!fetch_new_name(p, kw, words, n))
		return;
	if (!fetch_read_options(p, kw, &f, words, n, seen, &hostport) ||
	    !fetch_check(p, &f, seen, hostport) || p->oom) {
		fetch_free_one(&f);
		return;
	}
	f.name = config_strdup(p, words[0]);
	fetch_resolve(p, &f.password_file);
	fetch_resolve(p, &f.ca_file);
	grown = realloc(cfg->fetch, (cfg->n_fetch + 1) * sizeof(*grown));
	if (grown == NULL) {
		p->oom = true;
		fetch_free_one(&f);
		return;
	}
	f.line = p->line;
	cfg->fetch = grown;
	cfg->fetch[cfg->n_fetch++] = f;
}

void config_fetch_finish(struct config_parser *p)
{
	const struct config *cfg = p->cfg;

	for (size_t i = 0; i < cfg->n_fetch; i++) {
		const struct config_fetch *f = &cfg->fetch[i];
		const char *domain = f->mode == CONFIG_FETCH_MULTIPOP
					     ? strrchr(f->target, '@') + 1
					     : f->target;

		if (config_find_domain(cfg, domain) == NULL)
			config_err(p, f->line,
				"fetch_account: %s: %s is not a local_domain",
				f->mode == CONFIG_FETCH_MULTIPOP ? "multipop"
								 : "domainpop",
				domain);
	}
}

void config_fetch_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_fetch; i++)
		fetch_free_one(&cfg->fetch[i]);
	free(cfg->fetch);
}
