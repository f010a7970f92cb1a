/* common/config.c: the kantorpos.conf parser. A table maps each keyword to a
 * typed handler with its bounds and default (Redis style); the parser applies
 * the defaults, reads "keyword value..." lines, and collects every error of
 * the file so that one run shows them all. config_load adds the file I/O. */
#include "config.h"

#include "common/config.h"
#include "common/fsutil.h"

#include <arpa/inet.h>
#include <ctype.h>
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
#define CFG_MAX_ERRORS 100
#define CFG_MAX_FILE (1024 * 1024)

#define KB 1024ULL
#define MB (1024ULL * KB)
#define GB (1024ULL * MB)

struct cfg_parser;
struct cfg_keyword;

/* A custom handler gets the words after the keyword (n may be 0) and reports
 * its own errors through cfg_err. */
typedef void cfg_handler(struct cfg_parser *p, const struct cfg_keyword *kw,
			 char **words, size_t n);
/* A string check: NULL when value is fine, else what was expected. */
typedef const char *cfg_check(const char *value);

enum cfg_type {
	CFG_T_STRING,   /* char *, one word, optional check */
	CFG_T_PATH,     /* char *, one word, made absolute */
	CFG_T_BOOL,     /* bool, yes or no */
	CFG_T_UINT,     /* unsigned long long within min..max */
	CFG_T_SIZE,     /* uint64_t bytes, K/M/G suffix, within min..max */
	CFG_T_DURATION, /* unsigned seconds, s/m/h/d suffix, within min..max */
	CFG_T_CUSTOM,   /* handler does everything */
};

#define CFG_F_REQUIRED 0x1u /* an error when absent */
#define CFG_F_MULTI 0x2u    /* may appear on several lines */

struct cfg_keyword {
	const char *name;
	enum cfg_type type;
	unsigned flags;
	size_t offset; /* of the field in struct config (not for CUSTOM) */
	unsigned long long min, max, def;
	cfg_check *check;
	cfg_handler *handler;
};

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
	{ .name = #n, .type = CFG_T_STRING, .flags = (fl),                   \
	  .offset = CFG_FIELD(n, char *), .check = (chk) }
#define KW_PATH(n, fl)                                                    \
	{ .name = #n, .type = CFG_T_PATH, .flags = (fl),                     \
	  .offset = CFG_FIELD(n, char *) }
#define KW_BOOL(n, d)                                                     \
	{ .name = #n, .type = CFG_T_BOOL, .offset = CFG_FIELD(n, bool),      \
	  .def = (d) }
#define KW_UINT(n, lo, hi, d)                                             \
	{ .name = #n, .type = CFG_T_UINT,                                    \
	  .offset = CFG_FIELD(n, unsigned long long), .min = (lo),           \
	  .max = (hi), .def = (d) }
#define KW_SIZE(n, lo, hi, d)                                             \
	{ .name = #n, .type = CFG_T_SIZE, .offset = CFG_FIELD(n, uint64_t),  \
	  .min = (lo), .max = (hi), .def = (d) }
#define KW_DURATION(n, lo, hi, d)                                         \
	{ .name = #n, .type = CFG_T_DURATION,                                \
	  .offset = CFG_FIELD(n, unsigned), .min = (lo), .max = (hi),        \
	  .def = (d) }
#define KW_CUSTOM(n, fl, fn)                                              \
	{ .name = #n, .type = CFG_T_CUSTOM, .flags = (fl), .handler = (fn) }

static cfg_check check_hostname, check_username;
static cfg_handler handle_log_level, handle_local_domain, handle_listen,
	handle_recipient_delimiter, handle_relayhost;

/* Every keyword of kantorpos.conf. A new repeatable keyword (an ETRN
 * domain, a fetch account) is one KW_CUSTOM row plus its handler and its
 * array in struct config. Keep in step with man/kantorpos.conf.5. */
static const struct cfg_keyword cfg_keywords[] = {
	KW_STRING(hostname, 0, check_hostname),
	KW_PATH(data_dir, CFG_F_REQUIRED),
	KW_PATH(user_db, CFG_F_REQUIRED),
	KW_PATH(aliases, 0),
	KW_STRING(run_as, 0, check_username),
	KW_CUSTOM(log_level, 0, handle_log_level),
	KW_CUSTOM(local_domain, CFG_F_REQUIRED | CFG_F_MULTI,
		  handle_local_domain),
	KW_CUSTOM(listen, CFG_F_MULTI, handle_listen),
	KW_PATH(tls_cert, 0),
	KW_PATH(tls_key, 0),
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
	KW_CUSTOM(recipient_delimiter, 0, handle_recipient_delimiter),
	KW_SIZE(quota_bytes, 0, 1048576 * GB, 0),
	KW_UINT(quota_messages, 0, UINT32_MAX, 0),
	KW_BOOL(quota_permanent, false),
	KW_CUSTOM(relayhost, 0, handle_relayhost),
	KW_UINT(workers, 0, 1024, 0),
	KW_UINT(password_opslimit, crypto_pwhash_OPSLIMIT_MIN,
		crypto_pwhash_OPSLIMIT_MAX, crypto_pwhash_OPSLIMIT_INTERACTIVE),
	KW_SIZE(password_memlimit, crypto_pwhash_MEMLIMIT_MIN,
		crypto_pwhash_MEMLIMIT_MAX, crypto_pwhash_MEMLIMIT_INTERACTIVE),
	KW_DURATION(login_fail_delay, 0, 60, 2),
	KW_UINT(login_fail_limit, 1, 1000000, 10),
	KW_DURATION(login_fail_window, 1, 86400, 900),
};

#define CFG_N_KEYWORDS (sizeof(cfg_keywords) / sizeof(cfg_keywords[0]))

struct cfg_error {
	unsigned line; /* 0: about the whole file, sorted last */
	size_t seq;    /* keeps the order of errors on one line */
	char *text;
};

struct cfg_parser {
	const char *name;
	const char *base_dir; /* NULL: keep relative paths */
	struct config *cfg;
	unsigned line;
	struct cfg_error *errs;
	size_t n_errs, cap_errs, dropped;
	bool oom;
	unsigned first_line[CFG_N_KEYWORDS]; /* 0: keyword not seen */
};

static void cfg_err(struct cfg_parser *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void *cfg_alloc(struct cfg_parser *p, size_t size);
static char *cfg_strdup(struct cfg_parser *p, const char *s);
static int cfg_parse_number(const char *s, unsigned long long *v_r,
			    const char **end_r);
static int cfg_parse_size(const char *s, uint64_t *v_r);
static int cfg_parse_duration(const char *s, unsigned long long *v_r);
static void cfg_fmt_size(char *buf, size_t len, unsigned long long v);
static void cfg_fmt_duration(char *buf, size_t len, unsigned long long v);
static bool cfg_is_domain(const char *s);
static bool cfg_is_localpart(const char *s);
static int cfg_split_hostport(char *s, enum config_addr *addr_r,
			      char **host_r, char **port_r);
static char *cfg_resolve(struct cfg_parser *p, const char *path);
static void cfg_defaults(struct cfg_parser *p);
static void cfg_line(struct cfg_parser *p, char *line);
static void cfg_keyword(struct cfg_parser *p, const struct cfg_keyword *kw,
			char **words, size_t n);
static void cfg_finish(struct cfg_parser *p);
static char *cfg_error_text(struct cfg_parser *p);
static void cfg_free_errors(struct cfg_parser *p);

static void cfg_err(struct cfg_parser *p, unsigned line, const char *fmt, ...)
{
	char msg[512];
	char *text;
	va_list ap;
	int n;

	if (p->n_errs >= CFG_MAX_ERRORS) {
		p->dropped++;
		return;
	}
	if (p->n_errs == p->cap_errs) {
		size_t cap = p->cap_errs ? 2 * p->cap_errs : 8;
		struct cfg_error *e = realloc(p->errs, cap * sizeof(*e));

		if (e == NULL) {
			p->oom = true;
			return;
		}
		p->errs = e;
		p->cap_errs = cap;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = asprintf(&text, "%s:%u: %s\n", p->name, line, msg);
	else
		n = asprintf(&text, "%s: %s\n", p->name, msg);
	if (n < 0) {
		p->oom = true;
		return;
	}
	p->errs[p->n_errs].line = line;
	p->errs[p->n_errs].seq = p->n_errs;
	p->errs[p->n_errs].text = text;
	p->n_errs++;
}

static void *cfg_alloc(struct cfg_parser *p, size_t size)
{
	void *m = calloc(1, size);

	if (m == NULL)
		p->oom = true;
	return m;
}

static char *cfg_strdup(struct cfg_parser *p, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		p->oom = true;
	return d;
}

/* Decimal digits only (no sign, no spaces); 0 with *end_r past the digits,
 * -1 when there are none or the value overflows. */
static int cfg_parse_number(const char *s, unsigned long long *v_r,
			    const char **end_r)
{
	unsigned long long v = 0;
	const char *q = s;

	while (*q >= '0' && *q <= '9') {
		unsigned d = (unsigned)(*q - '0');

		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		q++;
	}
	if (q == s)
		return -1;
	*v_r = v;
	*end_r = q;
	return 0;
}

/* "123", "64K", "50M", "2G" (either case): bytes. */
static int cfg_parse_size(const char *s, uint64_t *v_r)
{
	unsigned long long v, mult = 1;
	const char *end;

	if (cfg_parse_number(s, &v, &end) < 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mult = KB; break;
	case 'm': case 'M': mult = MB; break;
	case 'g': case 'G': mult = GB; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*v_r = v * mult;
	return 0;
}

/* "30", "30s", "5m", "2h", "1d": seconds. */
static int cfg_parse_duration(const char *s, unsigned long long *v_r)
{
	unsigned long long v, mult = 1;
	const char *end;

	if (cfg_parse_number(s, &v, &end) < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > ULLONG_MAX / mult)
		return -1;
	*v_r = v * mult;
	return 0;
}

/* The shortest exact spelling, for messages: 4194304 -> "4M". */
static void cfg_fmt_size(char *buf, size_t len, unsigned long long v)
{
	if (v != 0 && v % GB == 0)
		snprintf(buf, len, "%lluG", v / GB);
	else if (v != 0 && v % MB == 0)
		snprintf(buf, len, "%lluM", v / MB);
	else if (v != 0 && v % KB == 0)
		snprintf(buf, len, "%lluK", v / KB);
	else
		snprintf(buf, len, "%llu", v);
}

static void cfg_fmt_duration(char *buf, size_t len, unsigned long long v)
{
	if (v != 0 && v % 86400 == 0)
		snprintf(buf, len, "%llud", v / 86400);
	else if (v != 0 && v % 3600 == 0)
		snprintf(buf, len, "%lluh", v / 3600);
	else if (v != 0 && v % 60 == 0)
		snprintf(buf, len, "%llum", v / 60);
	else
		snprintf(buf, len, "%llus", v);
}

/* RFC 1035 2.3.1 host names: dot-separated labels of letters, digits and
 * inner hyphens, at most 63 octets each and 253 in all. */
static bool cfg_is_domain(const char *s)
{
	size_t total = strlen(s), label = 0;
	const char *q;

	if (total == 0 || total > 253)
		return false;
	for (q = s; *q != '\0'; q++) {
		if (*q == '.') {
			if (label == 0 || q[-1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*q) || *q == '-') {
			if (*q == '-' && label == 0)
				return false;
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && q[-1] != '-';
}

/* RFC 5322 dot-atom text, minus '/' because a local part names a Maildir
 * directory: no leading, trailing or doubled dots. */
static bool cfg_is_localpart(const char *s)
{
	const char *q;

	if (*s == '\0' || *s == '.' || strlen(s) > 64)
		return false;
	for (q = s; *q != '\0'; q++) {
		if (*q == '.' ? q[1] == '.' || q[1] == '\0'
			      : !isalnum((unsigned char)*q) &&
					strchr("!#$%&'*+-=?^_`{|}~", *q) == NULL)
			return false;
	}
	return true;
}

static const char *check_hostname(const char *value)
{
	return cfg_is_domain(value) ? NULL : "expected a host name";
}

/* POSIX portable user names: letters, digits, '.', '_', '-', no leading '-'. */
static const char *check_username(const char *value)
{
	const char *q;

	if (*value == '-' || strlen(value) > 32)
		return "expected a user name";
	for (q = value; *q != '\0'; q++)
		if (!isalnum((unsigned char)*q) && strchr("._-", *q) == NULL)
			return "expected a user name";
	return NULL;
}

/* Split "ADDRESS:PORT" in place. ADDRESS is "*", "[IPv6]", an IPv4 literal
 * or a host name; *port_r is NULL when there is no ":PORT". 0 or -1. */
static int cfg_split_hostport(char *s, enum config_addr *addr_r,
			      char **host_r, char **port_r)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char *colon;

	*port_r = NULL;
	if (*s == '[') {
		char *close = strchr(s, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		if (close[1] == ':')
			*port_r = close + 2;
		*close = '\0';
		if (inet_pton(AF_INET6, s + 1, bin) != 1)
			return -1;
		*addr_r = CONFIG_ADDR_IPV6;
		*host_r = s + 1;
		return 0;
	}
	colon = strchr(s, ':');
	if (colon != NULL) {
		*colon = '\0';
		*port_r = colon + 1;
	}
	*host_r = s;
	if (strcmp(s, "*") == 0)
		*addr_r = CONFIG_ADDR_ANY;
	else if (inet_pton(AF_INET, s, bin) == 1)
		*addr_r = CONFIG_ADDR_IPV4;
	else if (strspn(s, "0123456789.") == strlen(s))
		return -1; /* looks numeric but is no IPv4 address */
	else if (cfg_is_domain(s))
		*addr_r = CONFIG_ADDR_NAME;
	else
		return -1;
	return 0;
}

/* A port 1-65535 in decimal; 0 or -1. */
static int cfg_port(const char *s, unsigned *port_r)
{
	unsigned long long v;
	const char *end;

	if (s == NULL || cfg_parse_number(s, &v, &end) < 0 || *end != '\0' ||
	    v < 1 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

/* Join a relative path to the base directory; "./x" becomes "base/x". */
static char *cfg_resolve(struct cfg_parser *p, const char *path)
{
	char *joined;

	if (path[0] == '/' || p->base_dir == NULL || p->base_dir[0] == '\0')
		return cfg_strdup(p, path);
	while (path[0] == '.' && path[1] == '/')
		path += strspn(path + 1, "/") + 1;
	if (path[0] == '\0' || strcmp(path, ".") == 0)
		return cfg_strdup(p, p->base_dir);
	if (asprintf(&joined, "%s%s%s", p->base_dir,
		     p->base_dir[strlen(p->base_dir) - 1] == '/' ? "" : "/",
		     path) < 0) {
		p->oom = true;
		return NULL;
	}
	return joined;
}

static void handle_log_level(struct cfg_parser *p,
			     const struct cfg_keyword *kw, char **words,
			     size_t n)
{
	int level = n == 1 ? log_level_parse(words[0]) : -1;

	if (level < 0) {
		cfg_err(p, p->line,
			"%s: expected one of error, warn, info, debug%s%s%s",
			kw->name, n ? ", got \"" : "", n ? words[0] : "",
			n ? "\"" : "");
		return;
	}
	p->cfg->log_level = (enum log_level)level;
}

static void handle_local_domain(struct cfg_parser *p,
				const struct cfg_keyword *kw, char **words,
				size_t n)
{
	struct config *cfg = p->cfg;
	struct config_domain *d, *grown;
	char *q;
	size_t i;

	if (n != 1 && n != 3) {
		cfg_err(p, p->line, "%s: expected DOMAIN [catchall LOCALPART]",
			kw->name);
		return;
	}
	if (!cfg_is_domain(words[0])) {
		cfg_err(p, p->line, "%s: expected a domain name, got \"%s\"",
			kw->name, words[0]);
		return;
	}
	if (n == 3 && strcmp(words[1], "catchall") != 0) {
		cfg_err(p, p->line, "%s: expected \"catchall\", got \"%s\"",
			kw->name, words[1]);
		return;
	}
	if (n == 3 && !cfg_is_localpart(words[2])) {
		cfg_err(p, p->line, "%s: catchall: expected a local part, got \"%s\"",
			kw->name, words[2]);
		return;
	}
	for (q = words[0]; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	for (i = 0; i < cfg->n_domains; i++) {
		if (strcmp(cfg->domains[i].name, words[0]) == 0) {
			cfg_err(p, p->line,
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
	d->name = cfg_strdup(p, words[0]);
	if (n == 3)
		d->catchall = cfg_strdup(p, words[2]);
}

/* Apply one listen flag to l; false (after reporting) when it is bad. */
static bool cfg_listen_flag(struct cfg_parser *p, struct config_listen *l,
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
			cfg_err(p, p->line, "listen: flag %s given twice", flag);
			return false;
		}
		*b = true;
		return true;
	}
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(flag, roles[i].name) != 0)
			continue;
		if (l->proto == CONFIG_PROTO_POP3) {
			cfg_err(p, p->line,
				"listen: pop3 takes no role flag, got \"%s\"",
				flag);
			return false;
		}
		if (*role_word != NULL) {
			cfg_err(p, p->line,
				"listen: expected one role of mx, submission, submissions, got \"%s\" and \"%s\"",
				*role_word, flag);
			return false;
		}
		*role_word = flag;
		l->role = roles[i].role;
		return true;
	}
	cfg_err(p, p->line, "listen: unknown flag \"%s\"", flag);
	return false;
}

static void handle_listen(struct cfg_parser *p, const struct cfg_keyword *kw,
			  char **words, size_t n)
{
	struct config *cfg = p->cfg;
	struct config_listen l, *grown;
	const char *role_word = NULL;
	char *host, *port, *spelled;
	bool ok = true;
	size_t i;

	memset(&l, 0, sizeof(l));
	if (n < 2) {
		cfg_err(p, p->line,
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
		cfg_err(p, p->line, "%s: expected smtp or pop3, got \"%s\"",
			kw->name, words[0]);
		return;
	}
	spelled = cfg_strdup(p, words[1]);
	if (spelled == NULL)
		return;
	if (cfg_split_hostport(words[1], &l.addr, &host, &port) < 0) {
		cfg_err(p, p->line,
			"%s: expected ADDRESS:PORT with ADDRESS an IPv4 address, [IPv6 address], * or a host name, got \"%s\"",
			kw->name, spelled);
		ok = false;
	} else if (cfg_port(port, &l.port) < 0) {
		cfg_err(p, p->line,
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
			cfg_err(p, p->line,
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
		l.host = cfg_strdup(p, host);
	cfg->listeners[cfg->n_listeners++] = l;
}

static void handle_recipient_delimiter(struct cfg_parser *p,
				       const struct cfg_keyword *kw,
				       char **words, size_t n)
{
	const char *q;

	if (n != 1) {
		cfg_err(p, p->line, "%s: expected CHARS or none", kw->name);
		return;
	}
	if (strcmp(words[0], "none") == 0) {
		free(p->cfg->recipient_delimiter);
		p->cfg->recipient_delimiter = cfg_strdup(p, "");
		return;
	}
	/* Characters that can appear in a local part but not at its edges
	 * or as the domain separator. */
	for (q = words[0]; *q != '\0'; q++) {
		if (strchr("+-_=%&~!$^*?{}|", *q) == NULL) {
			cfg_err(p, p->line,
				"%s: expected characters from +-_=%%&~!$^*?{}| or none, got \"%s\"",
				kw->name, words[0]);
			return;
		}
	}
	free(p->cfg->recipient_delimiter);
	p->cfg->recipient_delimiter = cfg_strdup(p, words[0]);
}

static void handle_relayhost(struct cfg_parser *p,
			     const struct cfg_keyword *kw, char **words,
			     size_t n)
{
	struct config_hostport *r = &p->cfg->relayhost;
	enum config_addr addr;
	char *host, *port, *spelled;
	unsigned portnum = 25;

	if (n != 1) {
		cfg_err(p, p->line, "%s: expected HOST:PORT", kw->name);
		return;
	}
	spelled = cfg_strdup(p, words[0]);
	if (spelled == NULL)
		return;
	if (cfg_split_hostport(words[0], &addr, &host, &port) < 0 ||
	    addr == CONFIG_ADDR_ANY) {
		cfg_err(p, p->line,
			"%s: expected HOST:PORT with HOST a host name, an IPv4 address or [IPv6 address], got \"%s\"",
			kw->name, spelled);
	} else if (port != NULL && cfg_port(port, &portnum) < 0) {
		cfg_err(p, p->line,
			"%s: expected a port from 1 to 65535 in \"%s\"",
			kw->name, spelled);
	} else {
		r->host = cfg_strdup(p, host);
		r->port = portnum;
		r->line = p->line;
	}
	free(spelled);
}

static void cfg_defaults(struct cfg_parser *p)
{
	size_t i;

	for (i = 0; i < CFG_N_KEYWORDS; i++) {
		const struct cfg_keyword *kw = &cfg_keywords[i];
		char *field = (char *)p->cfg + kw->offset;

		switch (kw->type) {
		case CFG_T_BOOL:
			*(bool *)(void *)field = kw->def != 0;
			break;
		case CFG_T_UINT:
			*(unsigned long long *)(void *)field = kw->def;
			break;
		case CFG_T_SIZE:
			*(uint64_t *)(void *)field = kw->def;
			break;
		case CFG_T_DURATION:
			*(unsigned *)(void *)field = (unsigned)kw->def;
			break;
		case CFG_T_STRING:
		case CFG_T_PATH:
		case CFG_T_CUSTOM:
			break;
		}
	}
	p->cfg->log_level = LOG_LVL_INFO;
	p->cfg->recipient_delimiter = cfg_strdup(p, "+");
}

/* One keyword with its values: built-in types here, the rest by handler. */
static void cfg_keyword(struct cfg_parser *p, const struct cfg_keyword *kw,
			char **words, size_t n)
{
	char *field = (char *)p->cfg + kw->offset;
	char lo[32], hi[32];
	unsigned long long v = 0;
	uint64_t size = 0;
	const char *end, *why;
	int bad;

	if (kw->type == CFG_T_CUSTOM) {
		kw->handler(p, kw, words, n);
		return;
	}
	if (n != 1) {
		if (n == 0)
			cfg_err(p, p->line, "%s: expected a value", kw->name);
		else
			cfg_err(p, p->line, "%s: expected one value, got %zu",
				kw->name, n);
		return;
	}
	switch (kw->type) {
	case CFG_T_STRING:
		if (kw->check != NULL && (why = kw->check(words[0])) != NULL) {
			cfg_err(p, p->line, "%s: %s, got \"%s\"", kw->name, why,
				words[0]);
			return;
		}
		*(char **)(void *)field = cfg_strdup(p, words[0]);
		break;
	case CFG_T_PATH:
		*(char **)(void *)field = cfg_resolve(p, words[0]);
		break;
	case CFG_T_BOOL:
		if (strcmp(words[0], "yes") != 0 && strcmp(words[0], "no") != 0) {
			cfg_err(p, p->line, "%s: expected yes or no, got \"%s\"",
				kw->name, words[0]);
			return;
		}
		*(bool *)(void *)field = words[0][0] == 'y';
		break;
	case CFG_T_UINT:
		bad = cfg_parse_number(words[0], &v, &end) < 0 || *end != '\0';
		if (bad || v < kw->min || v > kw->max) {
			cfg_err(p, p->line,
				"%s: expected a number from %llu to %llu, got \"%s\"",
				kw->name, kw->min, kw->max, words[0]);
			return;
		}
		*(unsigned long long *)(void *)field = v;
		break;
	case CFG_T_SIZE:
		if (cfg_parse_size(words[0], &size) < 0) {
			cfg_err(p, p->line,
				"%s: expected a size like 50M, got \"%s\"",
				kw->name, words[0]);
			return;
		}
		if (size < kw->min || size > kw->max) {
			cfg_fmt_size(lo, sizeof(lo), kw->min);
			cfg_fmt_size(hi, sizeof(hi), kw->max);
			cfg_err(p, p->line,
				"%s: expected a size from %s to %s, got \"%s\"",
				kw->name, lo, hi, words[0]);
			return;
		}
		*(uint64_t *)(void *)field = size;
		break;
	case CFG_T_DURATION:
		if (cfg_parse_duration(words[0], &v) < 0) {
			cfg_err(p, p->line,
				"%s: expected a duration like 5m, got \"%s\"",
				kw->name, words[0]);
			return;
		}
		if (v < kw->min || v > kw->max) {
			cfg_fmt_duration(lo, sizeof(lo), kw->min);
			cfg_fmt_duration(hi, sizeof(hi), kw->max);
			cfg_err(p, p->line,
				"%s: expected a duration from %s to %s, got \"%s\"",
				kw->name, lo, hi, words[0]);
			return;
		}
		*(unsigned *)(void *)field = (unsigned)v;
		break;
	case CFG_T_CUSTOM:
		break;
	}
}

/* One line, NUL-terminated without its newline; modified in place. */
static void cfg_line(struct cfg_parser *p, char *line)
{
	char *words[CFG_MAX_WORDS];
	size_t n = 0, i;
	char *q;

	for (q = line; *q != '\0' && *q != '#'; q++) {
		unsigned char c = (unsigned char)*q;

		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
			cfg_err(p, p->line, "unexpected control character 0x%02x",
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
			cfg_err(p, p->line, "too many words (at most %d)",
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
		cfg_err(p, p->line, "unknown keyword \"%s\"", words[0]);
		return;
	}
	if (p->first_line[i] != 0 && !(cfg_keywords[i].flags & CFG_F_MULTI)) {
		cfg_err(p, p->line, "duplicate keyword %s (already on line %u)",
			words[0], p->first_line[i]);
		return;
	}
	if (p->first_line[i] == 0)
		p->first_line[i] = p->line;
	cfg_keyword(p, &cfg_keywords[i], words + 1, n - 1);
}

static unsigned cfg_line_of(const struct cfg_parser *p, const char *name)
{
	size_t i;

	for (i = 0; i < CFG_N_KEYWORDS; i++)
		if (strcmp(cfg_keywords[i].name, name) == 0)
			return p->first_line[i];
	return 0;
}

/* Checks that need the whole file. */
static void cfg_finish(struct cfg_parser *p)
{
	const struct config *cfg = p->cfg;
	bool have_tls = cfg->tls_cert != NULL && cfg->tls_key != NULL;
	size_t i;

	for (i = 0; i < CFG_N_KEYWORDS; i++)
		if ((cfg_keywords[i].flags & CFG_F_REQUIRED) &&
		    p->first_line[i] == 0)
			cfg_err(p, 0, "missing required keyword %s",
				cfg_keywords[i].name);
	if (cfg->tls_cert != NULL && cfg->tls_key == NULL)
		cfg_err(p, cfg_line_of(p, "tls_cert"),
			"tls_cert: expected tls_key as well");
	if (cfg->tls_key != NULL && cfg->tls_cert == NULL)
		cfg_err(p, cfg_line_of(p, "tls_key"),
			"tls_key: expected tls_cert as well");
	for (i = 0; i < cfg->n_listeners && !have_tls; i++) {
		const struct config_listen *l = &cfg->listeners[i];

		if (l->tls)
			cfg_err(p, l->line,
				"listen: implicit TLS expects tls_cert and tls_key");
		else if (l->role == CONFIG_ROLE_SUBMISSION && !l->plaintext_ok)
			cfg_err(p, l->line,
				"listen: submission expects tls_cert and tls_key for STARTTLS (or the plaintext-ok flag)");
	}
}

static int cfg_error_cmp(const void *a, const void *b)
{
	const struct cfg_error *x = a, *y = b;
	unsigned lx = x->line ? x->line : UINT_MAX;
	unsigned ly = y->line ? y->line : UINT_MAX;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Every error line in file order, file-wide ones last; NULL on no memory. */
static char *cfg_error_text(struct cfg_parser *p)
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

static void cfg_free_errors(struct cfg_parser *p)
{
	size_t i;

	for (i = 0; i < p->n_errs; i++)
		free(p->errs[i].text);
	free(p->errs);
}

struct config *config_parse(const char *name, const char *base_dir,
			    const char *text, size_t len, char **err_r)
{
	struct cfg_parser p;
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
	p.cfg = cfg_alloc(&p, sizeof(*p.cfg));
	copy = malloc(len + 1);
	if (p.cfg == NULL || copy == NULL) {
		free(p.cfg);
		free(copy);
		free(dir);
		return NULL;
	}
	p.cfg->file = cfg_strdup(&p, name);
	cfg_defaults(&p);
	memcpy(copy, text, len);
	copy[len] = '\0';
	line = copy;
	for (p.line = 1; line < copy + len && !p.oom; p.line++) {
		char *nl = memchr(line, '\n', (size_t)(copy + len - line));
		char *eol = nl != NULL ? nl : copy + len;

		*eol = '\0';
		if (strlen(line) != (size_t)(eol - line))
			cfg_err(&p, p.line, "unexpected NUL byte");
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
		if (cfg_keywords[i].type == CFG_T_STRING ||
		    cfg_keywords[i].type == CFG_T_PATH)
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
	free(cfg->relayhost.host);
	free(cfg->file);
	free(cfg);
}

const struct config_domain *config_find_domain(const struct config *cfg,
					       const char *domain)
{
	size_t i;

	for (i = 0; i < cfg->n_domains; i++)
		if (strcasecmp(cfg->domains[i].name, domain) == 0)
			return &cfg->domains[i];
	return NULL;
}
