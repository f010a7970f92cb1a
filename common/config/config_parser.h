/* common/config/config_parser.h: internals shared by the files of the config
 * parser (config_parser.c: errors, allocation, paths; config_load.c: the
 * keyword table and the parse; config_keywords.c, config_fetch.c and
 * config_relay.c: keywords with their own grammar). Not for use outside
 * common/config/. */
#ifndef KANTORPOS_COMMON_CONFIG_PARSER_H
#define KANTORPOS_COMMON_CONFIG_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config/config.h"

struct config_parser;
struct config_keyword;

/* A custom handler gets the words after the keyword (n may be 0) and reports
 * its own errors through config_err. */
typedef void config_handler(struct config_parser *p,
			    const struct config_keyword *kw, char **words,
			    size_t n);
/* A string check: NULL when value is fine, else what was expected. */
typedef const char *config_check(const char *value);

enum config_type {
	CONFIG_T_STRING,   /* char *, one word, optional check */
	CONFIG_T_PATH,     /* char *, one word, made absolute */
	CONFIG_T_BOOL,     /* bool, yes or no */
	CONFIG_T_UINT,     /* unsigned long long within min..max */
	CONFIG_T_SIZE,     /* uint64_t bytes, K/M/G suffix, within min..max */
	CONFIG_T_DURATION, /* unsigned seconds, s/m/h/d suffix, within min..max */
	CONFIG_T_CUSTOM,   /* handler does everything */
};

#define CONFIG_F_REQUIRED 0x1u /* an error when absent */
#define CONFIG_F_MULTI 0x2u    /* may appear on several lines */

struct config_keyword {
	const char *name;
	enum config_type type;
	unsigned flags;
	size_t offset; /* of the field in struct config (not for CUSTOM) */
	unsigned long long min, max, def;
	config_check *check;
	config_handler *handler;
};

struct config_error {
	unsigned line; /* 0: about the whole file, sorted last */
	size_t seq;    /* keeps the order of errors on one line */
	char *text;
};

struct config_parser {
	const char *name;
	const char *base_dir; /* NULL: keep relative paths */
	struct config *cfg;
	unsigned line;
	struct config_error *errs;
	size_t n_errs, cap_errs, dropped;
	bool oom;
	/* The first line of each keyword goes to cfg->keyword_line. */
};

/* Record an error at line (0: about the whole file). Never fails: on no
 * memory it sets p->oom, and the parse reports that instead. */
void config_err(struct config_parser *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* calloc of one zeroed object that sets p->oom on failure. */
void *config_alloc(struct config_parser *p, size_t size);
/* strdup that sets p->oom on failure. */
char *config_strdup(struct config_parser *p, const char *s);

/* Keywords with their own grammar (config_keywords.c). */
config_handler config_kw_log_level, config_kw_local_domain, config_kw_listen,
	config_kw_recipient_delimiter;

/* ETRN keywords (config_keywords.c) and what frees their arrays. */
config_handler config_kw_etrn_domain, config_kw_etrn_request;
void config_free_etrn(struct config *cfg);
/* The relay host (config_relay.c): its line, the older relayhost_tls, the
 * checks that need the whole file (the TLS default by port, auth only
 * with verified TLS; legacy: the relayhost_tls line, 0 when absent) and
 * freeing. */
config_handler config_kw_relayhost, config_kw_relayhost_tls;
void config_relay_finish(struct config_parser *p, unsigned legacy);
void config_relay_free(struct config *cfg);
/* sender rules (config_keywords.c) */
config_handler config_kw_local_sender_policy, config_kw_trusted_networks;
/* direct delivery (config_outbound.c) and what frees its fields */
config_handler config_kw_relayhost_domains, config_kw_outbound_bind,
	config_kw_outbound_tls;
void config_outbound_free(struct config *cfg);
/* DNS (config_dns.c): the keywords, the default anchor, freeing. */
config_handler config_kw_dns_resolver, config_kw_dns_trust_anchor;
void config_dns_defaults(struct config_parser *p);
void config_dns_free(struct config *cfg);
/* fetch accounts */
config_handler config_kw_fetch_account;
/* local submission (config_sendmail.c): its keywords, the defaults that
 * need the whole file, and what frees its fields. */
config_handler config_kw_sendmail_domain, config_kw_sendmail_trusted_users;
void config_sendmail_finish(struct config_parser *p);
void config_sendmail_free(struct config *cfg);
/* DKIM signing keys (config_dkim.c): the keyword and freeing. */
config_handler config_kw_dkim_sign;
void config_dkim_free(struct config *cfg);
/* A path as written, made absolute against the file's directory (heap). */
char *config_resolve_path(struct config_parser *p, const char *path);
/* Checks of the fetch accounts that need the whole file (local domains). */
void config_fetch_finish(struct config_parser *p);
/* Free cfg->fetch and everything its entries own. */
void config_fetch_free(struct config *cfg);

#endif
