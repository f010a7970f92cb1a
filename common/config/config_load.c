/* common/config/config_load.c: the kantorpos.conf parser. A table maps each
 * keyword to a typed handler with its bounds and default (Redis style); the
 * parser applies the defaults, reads "keyword value..." lines, and collects
 * every error of the file so that one run shows them all. config_load adds
 * the file I/O; config_free undoes both. */
#include "autoconf.h"

#include "common/config/config_load.h"
#include "common/config/config_parser.h"
#include "common/config/config_value.h"
#include "common/base/fsutil.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Limits that keep a hostile file from costing much. */
#define CFG_MAX_WORDS 64
#define CFG_MAX_FILE (1024 * 1024)

#define KB 1024ULL
#define MB (1024ULL * KB)
#define GB (1024ULL * MB)

/* offsetof with a compile-time check that the field has the C type the
 * table entry's kind stores, so a wrong row cannot corrupt memory. */
#define CFG_FIELD(f, ctype)                                                  \
	(offsetof(struct config, f) +                                        \
	 0 * sizeof(struct {                                                 \
		 _Static_assert(__builtin_types_compatible_p(                \
					__typeof__(((struct config *)0)->f), \
					ctype),                              \
				#f " has the wrong type for its table row"); \
		 int unused;                                                 \
	 }))

#define KW_STRING(n, fl, chk)                                             \
	{ .name = #n, .type = CONFIG_T_STRING, .flags = (fl),                   \
	  .offset = CFG_FIELD(n, char *), .check = (chk) }
#define KW_PATH(n, fl)                                                    \
	{ .name = #n, .type = CONFIG_T_PATH, .flags = (fl),                     \
	  .offset = CFG_FIELD(n, char *) }
#define KW_BOOL(n, d)                                                     \
	{ .name = #n, .type = CONFIG_T_BOOL, .offset = CFG_FIELD(n, bool),      \
	  .def = (d) }
#define KW_UINT(n, lo, hi, d)                                             \
	{ .name = #n, .type = CONFIG_T_UINT,                                    \
	  .offset = CFG_FIELD(n, unsigned long long), .min = (lo),           \
	  .max = (hi), .def = (d) }
#define KW_SIZE(n, lo, hi, d)                                             \
	{ .name = #n, .type = CONFIG_T_SIZE, .offset = CFG_FIELD(n, uint64_t),  \
	  .min = (lo), .max = (hi), .def = (d) }
#define KW_DURATION(n, lo, hi, d)                                         \
	{ .name = #n, .type = CONFIG_T_DURATION,                                \
	  .offset = CFG_FIELD(n, unsigned), .min = (lo), .max = (hi),        \
	  .def = (d) }
#define KW_CUSTOM(n, fl, fn)                                              \
	{ .name = #n, .type = CONFIG_T_CUSTOM, .flags = (fl), .handler = (fn) }

static config_check check_hostname, check_username;

/* Every keyword of kantorpos.conf. A new repeatable keyword (an ETRN
 * domain, a fetch account) is one KW_CUSTOM row plus its handler and its
 * array in struct config. Keep in step with man/kantorpos.conf.5. */
static const struct config_keyword cfg_keywords[] = {
	KW_STRING(hostname, 0, check_hostname),
	KW_PATH(data_dir, CONFIG_F_REQUIRED),
	KW_PATH(user_db, CONFIG_F_REQUIRED),
	KW_PATH(aliases, 0),
	KW_STRING(run_as, 0, check_username),
	KW_CUSTOM(log_level, 0, config_kw_log_level),
	KW_PATH(log_file, 0), /* NULL: syslog, or stderr with -f */
	KW_CUSTOM(local_domain, CONFIG_F_REQUIRED | CONFIG_F_MULTI,
		  config_kw_local_domain),
	KW_CUSTOM(listen, CONFIG_F_MULTI, config_kw_listen),
	KW_PATH(tls_cert, 0),
	KW_PATH(tls_key, 0),
	KW_CUSTOM(dkim_sign, CONFIG_F_MULTI, config_kw_dkim_sign),
	KW_SIZE(max_message_size, 1 * KB, 4 * GB, 50 * MB),
	/* RFC 5321 4.5.3.1.8: at least 100 recipients must be accepted. */
	KW_UINT(max_recipients, 100, 100000, 100),
	/* RFC 5321 4.5.3.1.6: text lines of 1000 octets with CRLF. */
	KW_UINT(smtp_line_limit, 1000, 1048576, 1000),
	KW_UINT(max_connections, 1, 1000000, 10000),
	KW_UINT(max_connections_per_ip, 1, 1000000, 50),
	KW_UINT(bad_command_limit, 1, 10000, 20),
	/* RFC 5321 4.5.3.2.7 asks for 5 minutes, RFC 1939 section 3 for 10;
	 * shorter values are allowed for tests and documented as such. */
	KW_DURATION(smtp_timeout, 1, 86400, 300),
	KW_DURATION(pop3_timeout, 1, 86400, 600),
	KW_CUSTOM(recipient_delimiter, 0, config_kw_recipient_delimiter),
	KW_SIZE(quota_bytes, 0, 1048576 * GB, 0),
	KW_UINT(quota_messages, 0, UINT32_MAX, 0),
	KW_BOOL(quota_permanent, false),
	KW_CUSTOM(relayhost, 0, config_kw_relayhost),
	/* ETRN */
	KW_CUSTOM(etrn_domain, CONFIG_F_MULTI, config_kw_etrn_domain),
	KW_CUSTOM(etrn_request, CONFIG_F_MULTI, config_kw_etrn_request),
	/* RFC 5321 4.5.4.1: give up after 4-5 days. */
	KW_DURATION(queue_lifetime, 60, 30 * 86400, 5 * 86400),
	/* RFC 5321 4.5.4.1 asks for at least 30 minutes; 5 minutes, doubling,
	 * as Postfix's minimal_backoff_time (kantorpos.conf(5) says why). */
	KW_DURATION(queue_retry_min, 1, 86400, 300),
	KW_DURATION(queue_retry_max, 1, 7 * 86400, 3600),
	/* RFC 3461 §4.1: delay notices at the MTA's discretion; 0: none. */
	KW_DURATION(queue_delay_warning, 0, 30 * 86400, 4 * 3600),
	KW_DURATION(outbound_timeout, 0, 3600, 0),
	KW_PATH(tls_ca_file, 0),
	KW_CUSTOM(relayhost_tls, 0, config_kw_relayhost_tls),
	KW_UINT(workers, 0, 1024, 0),
	KW_UINT(password_opslimit, crypto_pwhash_OPSLIMIT_MIN,
		crypto_pwhash_OPSLIMIT_MAX, crypto_pwhash_OPSLIMIT_INTERACTIVE),
	KW_SIZE(password_memlimit, crypto_pwhash_MEMLIMIT_MIN,
		crypto_pwhash_MEMLIMIT_MAX, crypto_pwhash_MEMLIMIT_INTERACTIVE),
	KW_DURATION(login_fail_delay, 0, 60, 2),
	KW_UINT(login_fail_limit, 1, 1000000, 10),
	KW_DURATION(login_fail_window, 1, 86400, 900),
	/* fetch accounts */
	KW_CUSTOM(fetch_account, CONFIG_F_MULTI, config_kw_fetch_account),
	/* direct delivery */
	KW_CUSTOM(relayhost_domains, CONFIG_F_MULTI, config_kw_relayhost_domains),
	KW_UINT(outbound_port, 1, 65535, 25),
	KW_STRING(outbound_helo, 0, check_hostname),
	KW_CUSTOM(outbound_bind, 0, config_kw_outbound_bind),
	KW_CUSTOM(outbound_tls, 0, config_kw_outbound_tls),
	KW_UINT(outbound_concurrency, 1, 1000, 10),
	KW_UINT(outbound_max_sessions, 1, 100000, 100),
	KW_UINT(outbound_address_limit, 1, 32, 10),
	/* MTA-STS (RFC 8461): on by default; the policy port for labs. */
	KW_BOOL(mta_sts, true),
	KW_UINT(mta_sts_port, 1, 65535, 443),
	/* RFC 5321 6.3: a loop threshold of at least 100 Received fields. */
	KW_UINT(hop_limit, 1, 10000, 100),
	/* DNS */
	KW_CUSTOM(dns_resolver, 0, config_kw_dns_resolver),
	KW_CUSTOM(dns_trust_anchor, 0, config_kw_dns_trust_anchor),
	/* sender rules */
	KW_CUSTOM(local_sender_policy, 0, config_kw_local_sender_policy),
	KW_CUSTOM(trusted_networks, 0, config_kw_trusted_networks),
	/* RFC 7505 4.2: a null-MX sender can get no reply; refused on mx. */
	KW_BOOL(reject_null_mx_sender, true),
	/* RFC 7208 8.4: refusing on SPF fail is the receiver's choice; off
	 * by default, as forwarded mail fails SPF too. */
	KW_BOOL(spf_reject, false),
	/* Mail received on mx: DKIM signatures checked (the rest unchecked);
	 * 16 bounds the memory of a message. */
	KW_UINT(dkim_max_signatures, 0, 16, 5),
	/* local submission */
	KW_PATH(drop_dir, 0),
	KW_CUSTOM(sendmail_domain, 0, config_kw_sendmail_domain),
	KW_CUSTOM(sendmail_trusted_users, CONFIG_F_MULTI,
		  config_kw_sendmail_trusted_users),
};

#define CFG_N_KEYWORDS (sizeof(cfg_keywords) / sizeof(cfg_keywords[0]))

_Static_assert(CFG_N_KEYWORDS <= CONFIG_MAX_KEYWORDS,
	       "raise CONFIG_MAX_KEYWORDS in common/config/config.h");

static void cfg_defaults(struct config_parser *p);
static void cfg_line(struct config_parser *p, char *line);
static void cfg_keyword(struct config_parser *p, const struct config_keyword *kw,
			char **words, size_t n);
static void cfg_finish(struct config_parser *p);
static char *cfg_error_text(struct config_parser *p);
static void cfg_free_errors(struct config_parser *p);

static const char *check_hostname(const char *value)
{
	return config_is_domain(value) ? NULL : "expected a host name";
}

static const char *check_username(const char *value)
{
	return config_is_username(value) ? NULL : "expected a user name";
}

static void cfg_defaults(struct config_parser *p)
{
	size_t i;

	for (i = 0; i < CFG_N_KEYWORDS; i++) {
		const struct config_keyword *kw = &cfg_keywords[i];
		char *field = (char *)p->cfg + kw->offset;

		switch (kw->type) {
		case CONFIG_T_BOOL:
			*(bool *)(void *)field = kw->def != 0;
			break;
		case CONFIG_T_UINT:
			*(unsigned long long *)(void *)field = kw->def;
			break;
		case CONFIG_T_SIZE:
			*(uint64_t *)(void *)field = kw->def;
			break;
		case CONFIG_T_DURATION:
			*(unsigned *)(void *)field = (unsigned)kw->def;
			break;
		case CONFIG_T_STRING:
		case CONFIG_T_PATH:
		case CONFIG_T_CUSTOM:
			break;
		}
	}
	p->cfg->log_level = LOG_LVL_INFO;
	p->cfg->recipient_delimiter = config_strdup(p, "+");
	config_dns_defaults(p);
}

/* A CONFIG_T_UINT value within the keyword's bounds. */
static void cfg_set_uint(struct config_parser *p,
			 const struct config_keyword *kw, const char *word,
			 char *field)
{
	unsigned long long v = 0;
	const char *end;

	if (config_parse_number(word, &v, &end) < 0 || *end != '\0' ||
	    v < kw->min || v > kw->max) {
		config_err(p, p->line,
			"%s: expected a number from %llu to %llu, got \"%s\"",
			kw->name, kw->min, kw->max, word);
		return;
	}
	*(unsigned long long *)(void *)field = v;
}

/* A CONFIG_T_SIZE value within the keyword's bounds. */
static void cfg_set_size(struct config_parser *p,
			 const struct config_keyword *kw, const char *word,
			 char *field)
{
	char lo[32], hi[32];
	uint64_t size = 0;

	if (config_parse_size(word, &size) < 0) {
		config_err(p, p->line, "%s: expected a size like 50M, got \"%s\"",
			kw->name, word);
		return;
	}
	if (size < kw->min || size > kw->max) {
		config_format_size(lo, sizeof(lo), kw->min);
		config_format_size(hi, sizeof(hi), kw->max);
		config_err(p, p->line,
			"%s: expected a size from %s to %s, got \"%s\"",
			kw->name, lo, hi, word);
		return;
	}
	*(uint64_t *)(void *)field = size;
}

/* A CONFIG_T_DURATION value within the keyword's bounds. */
static void cfg_set_duration(struct config_parser *p,
			     const struct config_keyword *kw, const char *word,
			     char *field)
{
	unsigned long long v = 0;
	char lo[32], hi[32];

	if (config_parse_duration(word, &v) < 0) {
		config_err(p, p->line,
			"%s: expected a duration like 5m, got \"%s\"", kw->name,
			word);
		return;
	}
	if (v < kw->min || v > kw->max) {
		config_format_duration(lo, sizeof(lo), kw->min);
		config_format_duration(hi, sizeof(hi), kw->max);
		config_err(p, p->line,
			"%s: expected a duration from %s to %s, got \"%s\"",
			kw->name, lo, hi, word);
		return;
	}
	*(unsigned *)(void *)field = (unsigned)v;
}

/* One keyword with its values: built-in types here, the rest by handler. */
static void cfg_keyword(struct config_parser *p, const struct config_keyword *kw,
			char **words, size_t n)
{
	char *field = (char *)p->cfg + kw->offset;
	const char *why;

	if (kw->type == CONFIG_T_CUSTOM) {
		kw->handler(p, kw, words, n);
		return;
	}
	if (n != 1) {
		if (n == 0)
			config_err(p, p->line, "%s: expected a value", kw->name);
		else
			config_err(p, p->line, "%s: expected one value, got %zu",
				kw->name, n);
		return;
	}
	switch (kw->type) {
	case CONFIG_T_STRING:
		if (kw->check != NULL && (why = kw->check(words[0])) != NULL) {
			config_err(p, p->line, "%s: %s, got \"%s\"", kw->name, why,
				words[0]);
			return;
		}
		*(char **)(void *)field = config_strdup(p, words[0]);
		break;
	case CONFIG_T_PATH:
		*(char **)(void *)field = config_resolve_path(p, words[0]);
		break;
	case CONFIG_T_BOOL:
		if (strcmp(words[0], "yes") != 0 && strcmp(words[0], "no") != 0) {
			config_err(p, p->line, "%s: expected yes or no, got \"%s\"",
				kw->name, words[0]);
			return;
		}
		*(bool *)(void *)field = words[0][0] == 'y';
		break;
	case CONFIG_T_UINT:
		cfg_set_uint(p, kw, words[0], field);
		break;
	case CONFIG_T_SIZE:
		cfg_set_size(p, kw, words[0], field);
		break;
	case CONFIG_T_DURATION:
		cfg_set_duration(p, kw, words[0], field);
		break;
	case CONFIG_T_CUSTOM:
		break;
	}
}

/* One line, NUL-terminated without its newline; modified in place. */
static void cfg_line(struct config_parser *p, char *line)
{
	char *words[CFG_MAX_WORDS];
	size_t n = 0, i;
	char *q;

	for (q = line; *q != '\0' && *q != '#'; q++) {
		unsigned char c = (unsigned char)*q;

		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
			config_err(p, p->line, "unexpected control character 0x%02x",
				c);
			return;
		}
	}
	*q = '\0';
	for (q = line;;) {
		q += strspn(q, " \t\r");
		if (*q == '\0')
			break;
		if (n == CFG_MAX_WORDS) {
			config_err(p, p->line, "too many words (at most %d)",
				CFG_MAX_WORDS);
			return;
		}
		words[n++] = q;
		q += strcspn(q, " \t\r");
		if (*q != '\0')
			*q++ = '\0';
	}
	if (n == 0)
		return;
	for (i = 0; i < CFG_N_KEYWORDS; i++)
		if (strcmp(cfg_keywords[i].name, words[0]) == 0)
			break;
	if (i == CFG_N_KEYWORDS) {
		config_err(p, p->line, "unknown keyword \"%s\"", words[0]);
		return;
	}
	if (p->cfg->keyword_line[i] != 0 &&
	    !(cfg_keywords[i].flags & CONFIG_F_MULTI)) {
		config_err(p, p->line, "duplicate keyword %s (already on line %u)",
			words[0], p->cfg->keyword_line[i]);
		return;
	}
	if (p->cfg->keyword_line[i] == 0)
		p->cfg->keyword_line[i] = p->line;
	cfg_keyword(p, &cfg_keywords[i], words + 1, n - 1);
}

unsigned config_line(const struct config *cfg, const char *keyword)
{
	size_t i;

	for (i = 0; i < CFG_N_KEYWORDS; i++)
		if (strcmp(cfg_keywords[i].name, keyword) == 0)
			return cfg->keyword_line[i];
	return 0;
}

/* Checks that need the whole file. */
static void cfg_finish(struct config_parser *p)
{
	const struct config *cfg = p->cfg;
	bool have_tls = cfg->tls_cert != NULL && cfg->tls_key != NULL;
	size_t i;

	for (i = 0; i < CFG_N_KEYWORDS; i++)
		if ((cfg_keywords[i].flags & CONFIG_F_REQUIRED) &&
		    cfg->keyword_line[i] == 0)
			config_err(p, 0, "missing required keyword %s",
				cfg_keywords[i].name);
	if (cfg->tls_cert != NULL && cfg->tls_key == NULL)
		config_err(p, config_line(cfg, "tls_cert"),
			"tls_cert: expected tls_key as well");
	if (cfg->tls_key != NULL && cfg->tls_cert == NULL)
		config_err(p, config_line(cfg, "tls_key"),
			"tls_key: expected tls_cert as well");
	for (i = 0; i < cfg->n_listeners && !have_tls; i++) {
		const struct config_listen *l = &cfg->listeners[i];

		if (l->tls)
			config_err(p, l->line,
				"listen: implicit TLS expects tls_cert and tls_key");
		else if (l->role == CONFIG_ROLE_SUBMISSION && !l->plaintext_ok)
			config_err(p, l->line,
				"listen: submission expects tls_cert and tls_key for STARTTLS (or the plaintext-ok flag)");
	}
	config_relay_finish(p, config_line(cfg, "relayhost_tls"));
	/* fetch accounts */
	config_fetch_finish(p);
	/* local submission */
	config_sendmail_finish(p);
}

static int cfg_error_cmp(const void *a, const void *b)
{
	const struct config_error *x = a, *y = b;
	unsigned lx = x->line ? x->line : UINT_MAX;
	unsigned ly = y->line ? y->line : UINT_MAX;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every error line in file order, file-wide ones last; NULL on no memory. */
static char *cfg_error_text(struct config_parser *p)
{
	size_t i, len = 1, off = 0;
	char more[128] = "";
	char *text;

	if (p->oom) {
		if (asprintf(&text, "%s: out of memory\n", p->name) < 0)
			return NULL;
		return text;
	}
	qsort(p->errs, p->n_errs, sizeof(*p->errs), cfg_error_cmp);
	if (p->dropped > 0)
		snprintf(more, sizeof(more), "%s: %zu more errors not shown\n",
			 p->name, p->dropped);
	for (i = 0; i < p->n_errs; i++)
		len += strlen(p->errs[i].text);
	len += strlen(more);
	text = malloc(len);
	if (text == NULL)
		return NULL;
	for (i = 0; i < p->n_errs; i++) {
		size_t l = strlen(p->errs[i].text);

		memcpy(text + off, p->errs[i].text, l);
		off += l;
	}
	memcpy(text + off, more, strlen(more) + 1);
	return text;
}

static void cfg_free_errors(struct config_parser *p)
{
	size_t i;

	for (i = 0; i < p->n_errs; i++)
		free(p->errs[i].text);
	free(p->errs);
}

struct config *config_parse(const char *name, const char *base_dir,
			    const char *text, size_t len, char **err_r)
{
	struct config_parser p;
	char *copy, *line, *dir = NULL;

	*err_r = NULL;
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.base_dir = base_dir;
	if (base_dir == NULL && strrchr(name, '/') != NULL) {
		dir = strndup(name, (size_t)(strrchr(name, '/') - name));
		if (dir != NULL && dir[0] == '\0') {
			free(dir);
			dir = strdup("/");
		}
		if (dir == NULL)
			return NULL;
		p.base_dir = dir;
	}
	p.cfg = config_alloc(&p, sizeof(*p.cfg));
	copy = malloc(len + 1);
	if (p.cfg == NULL || copy == NULL) {
		free(p.cfg);
		free(copy);
		free(dir);
		return NULL;
	}
	p.cfg->file = config_strdup(&p, name);
	cfg_defaults(&p);
	memcpy(copy, text, len);
	copy[len] = '\0';
	line = copy;
	for (p.line = 1; line < copy + len && !p.oom; p.line++) {
		char *nl = memchr(line, '\n', (size_t)(copy + len - line));
		char *eol = nl != NULL ? nl : copy + len;

		*eol = '\0';
		if (strlen(line) != (size_t)(eol - line))
			config_err(&p, p.line, "unexpected NUL byte");
		else
			cfg_line(&p, line);
		line = eol + 1;
	}
	if (!p.oom)
		cfg_finish(&p);
	free(copy);
	free(dir);
	if (p.n_errs == 0 && p.dropped == 0 && !p.oom)
		return p.cfg;
	*err_r = cfg_error_text(&p);
	cfg_free_errors(&p);
	config_free(p.cfg);
	return NULL;
}

struct config *config_load(const char *path, char **err_r)
{
	struct config *cfg;
	char *text = NULL, *base = NULL, *slash;
	char host[256];
	size_t len = 0;

	*err_r = NULL;
	if (fs_read_file(path, CFG_MAX_FILE, &text, &len) < 0) {
		if (asprintf(err_r, "%s: cannot read: %s\n", path,
			     strerror(errno)) < 0)
			*err_r = NULL;
		return NULL;
	}
	/* Daemons chdir("/"), so relative paths must become absolute now. */
	if (path[0] == '/') {
		base = strdup(path);
	} else {
		char *cwd = getcwd(NULL, 0);

		if (cwd != NULL && asprintf(&base, "%s/%s", cwd, path) < 0)
			base = NULL;
		free(cwd);
	}
	if (base == NULL) {
		free(text);
		if (asprintf(err_r, "%s: cannot resolve its directory: %s\n",
			     path, strerror(errno)) < 0)
			*err_r = NULL;
		return NULL;
	}
	slash = strrchr(base, '/');
	slash[slash == base ? 1 : 0] = '\0';
	cfg = config_parse(path, base, text, len, err_r);
	free(text);
	free(base);
	if (cfg == NULL || cfg->hostname != NULL)
		return cfg;
	if (gethostname(host, sizeof(host)) < 0 ||
	    (host[sizeof(host) - 1] = '\0', host[0] == '\0')) {
		if (asprintf(err_r,
			     "%s: hostname is not set and the system has none\n",
			     path) < 0)
			*err_r = NULL;
		config_free(cfg);
		return NULL;
	}
	cfg->hostname = strdup(host);
	if (cfg->hostname == NULL) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

void config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < CFG_N_KEYWORDS; i++)
		if (cfg_keywords[i].type == CONFIG_T_STRING ||
		    cfg_keywords[i].type == CONFIG_T_PATH)
			free(*(char **)(void *)((char *)cfg +
						cfg_keywords[i].offset));
	for (i = 0; i < cfg->n_domains; i++) {
		free(cfg->domains[i].name);
		free(cfg->domains[i].catchall);
	}
	free(cfg->domains);
	for (i = 0; i < cfg->n_listeners; i++)
		free(cfg->listeners[i].host);
	free(cfg->listeners);
	free(cfg->recipient_delimiter);
	config_relay_free(cfg);
	/* ETRN */
	config_free_etrn(cfg);
	/* fetch accounts */
	config_fetch_free(cfg);
	/* direct delivery */
	config_outbound_free(cfg);
	config_dns_free(cfg);
	config_dkim_free(cfg);
	/* sender rules */
	free(cfg->trusted_networks);
	/* local submission */
	config_sendmail_free(cfg);
	free(cfg->file);
	free(cfg);
}
