/* common/config/config.h: kantorpos.conf, parsed into one typed struct config that
 * every kantorpos program reads. The grammar and every keyword are documented
 * in kantorpos.conf(5); the keyword table lives in common/config/config.c.
 *
 * Return convention of the project: pointers are NULL on error, with an
 * allocated text in *err_r holding every error line ("FILE:LINE: ...\n"). */
#ifndef KANTORPOS_COMMON_CONFIG_H
#define KANTORPOS_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/log.h"
/* ETRN */
#include "common/base/cidr.h"

#ifndef SYSCONFDIR
#error "SYSCONFDIR must be defined by the build"
/* fetch accounts */
/* The fetch account named `name` (exact match), or NULL. */
const struct config_fetch *config_find_fetch(const struct config *cfg,
					     const char *name);

#endif
/* Where the programs look when no -c option is given. */
#define CONFIG_DEFAULT_PATH SYSCONFDIR "/kantorpos/kantorpos.conf"

enum config_proto { CONFIG_PROTO_SMTP, CONFIG_PROTO_POP3 };

/* The job of an SMTP listener; POP3 listeners have CONFIG_ROLE_NONE. */
enum config_role {
	CONFIG_ROLE_NONE,
	CONFIG_ROLE_MX,          /* port 25: mail for local domains */
	CONFIG_ROLE_SUBMISSION,  /* port 587: authenticated users, STARTTLS */
	CONFIG_ROLE_SUBMISSIONS, /* port 465: authenticated users, implicit TLS */
};

/* How the address of a listener was written. */
enum config_addr {
	CONFIG_ADDR_ANY,  /* "*": every address; host is NULL */
	CONFIG_ADDR_IPV4, /* an IPv4 literal */
	CONFIG_ADDR_IPV6, /* "[...]" in the file; host holds it without brackets */
	CONFIG_ADDR_NAME, /* a host name, resolved when the listener binds */
};

/* One "listen" line. */
struct config_listen {
	enum config_proto proto;
	enum config_role role;
	enum config_addr addr;
	char *host;        /* NULL for CONFIG_ADDR_ANY */
	unsigned port;     /* 1-65535 */
	bool tls;          /* implicit TLS from the first byte */
	bool plaintext_ok; /* plaintext AUTH/USER/PASS allowed without TLS */
	unsigned line;     /* line in the config file, for later messages */
};

/* One "local_domain" line. */
struct config_domain {
	char *name;     /* lower case */
	char *catchall; /* local part that gets unknown recipients, or NULL */
	unsigned line;
};

/* TLS towards the relayhost: its tls option, else the legacy
 * relayhost_tls keyword, else by port (465 implicit, others starttls). */
enum config_relay_tls {
	CONFIG_RELAY_STARTTLS = 0,  /* STARTTLS required; certificate and
				     * host name verified */
	CONFIG_RELAY_IMPLICIT,      /* TLS from the first byte (RFC 8314),
				     * verified */
	CONFIG_RELAY_OPPORTUNISTIC, /* STARTTLS when offered, unverified
				     * (relayhost_tls opportunistic only) */
	CONFIG_RELAY_NONE,          /* plaintext */
};

/* The "relayhost" line; host is NULL when none is configured. The
 * password itself is never part of the configuration: the queue runner's
 * owner reads it from password_file (common/config/secret.h). */
struct config_relayhost {
	char *host; /* without brackets for IPv6 literals */
	unsigned port;
	enum config_relay_tls tls;
	char *auth_user;     /* NULL: no AUTH */
	char *password_file; /* absolute; set with auth_user */
	unsigned line;
	unsigned tls_line;   /* its line when the tls option was given, else 0 */
};

/* fetch accounts */
enum config_fetch_mode { CONFIG_FETCH_MULTIPOP, CONFIG_FETCH_DOMAINPOP };
enum config_fetch_tls {
	CONFIG_FETCH_TLS_IMPLICIT, /* TLS from the first byte (port 995) */
	CONFIG_FETCH_TLS_STLS,     /* STLS upgrade, required (port 110) */
	CONFIG_FETCH_TLS_NONE,     /* plaintext: only with plaintext-ok */
};
enum config_fetch_auth {
	CONFIG_FETCH_AUTH_ANY, /* SASL PLAIN if offered, else USER/PASS */
	CONFIG_FETCH_AUTH_PLAIN,
	CONFIG_FETCH_AUTH_USER,
	CONFIG_FETCH_AUTH_APOP,
};
enum config_fetch_oversize { CONFIG_FETCH_OVERSIZE_SKIP,
			     CONFIG_FETCH_OVERSIZE_DELETE };

/* One "fetch_account" line: a remote POP3 mailbox pulled by kantorpos fetch.
 * Strings are owned by the struct config. */
struct config_fetch {
	char *name;          /* account name: letters, digits, '.', '_', '-' */
	char *host;          /* without brackets for IPv6 literals */
	unsigned port;       /* default 995 (tls implicit) or 110 */
	char *user;          /* remote login name */
	char *password_file; /* absolute path; first line is the password */
	enum config_fetch_mode mode;
	char *target;        /* MULTIPOP: "local@domain" key; DOMAINPOP: domain */
	enum config_fetch_tls tls;
	char *ca_file;       /* NULL: the system trust store */
	char *fingerprint;   /* "sha256:..." pin replacing CA checks, or NULL */
	bool plaintext_ok;
	enum config_fetch_auth auth;
	bool keep;               /* leave messages on the server */
	unsigned keep_days;      /* with keep: delete copies older than this; 0 never */
	uint64_t max_size;       /* 0: max_message_size */
	enum config_fetch_oversize oversize;
	unsigned interval;       /* seconds between runs with --daemon */
	char *default_recipient; /* DOMAINPOP local part for unmatched mail */
	char **headers;          /* DOMAINPOP recipient headers, in order */
	size_t n_headers;
	unsigned skip_received;  /* DOMAINPOP: Received headers to ignore */
	unsigned timeout;        /* seconds without progress before giving up */
	/* Bounds of one run against a slow or hostile server (fetch/). */
	unsigned max_messages;    /* messages handled per run at most */
	unsigned message_timeout; /* seconds each step gets before min_rate */
	uint64_t min_rate;        /* octets a second a step must average */
	unsigned run_timeout;     /* seconds a whole run may take */
	unsigned line;
};

/* ETRN */
/* TLS on an outbound SMTP connection (etrn_domain tls; relayhost_tls,
 * folded into relayhost.tls). */
enum config_tls_mode {
	CONFIG_TLS_OPPORTUNISTIC = 0, /* STARTTLS when offered, unverified */
	CONFIG_TLS_REQUIRED,          /* STARTTLS or no delivery; verified */
	CONFIG_TLS_NONE,              /* never */
};

/* One "etrn_domain" line: mail we hold for a domain until asked. */
struct config_etrn_domain {
	char *name;           /* lower case */
	char *deliver_host;   /* NULL: the client address that issued ETRN */
	unsigned deliver_port;
	bool subdomains;      /* also hold mail for *.name */
	struct cidr *allow;   /* client ranges that may ask */
	size_t n_allow;
	char **users;         /* authenticated users that may ask (keys) */
	size_t n_users;
	unsigned retry;       /* periodic retry in seconds; 0: only on ETRN */
	unsigned lifetime;    /* seconds; 0: queue_lifetime */
	enum config_tls_mode tls;
	char *tls_pin;        /* "sha256:..." or NULL */
	unsigned line;
};

/* One "etrn_request" line: an upstream we ask to release our mail. */
struct config_etrn_request {
	char *host;           /* without brackets */
	unsigned port;
	char *domain;         /* as sent: "example.net" or "@example.net" */
	bool starttls;
	char *auth_user;      /* NULL: no AUTH */
	char *password_file;  /* absolute; set with auth_user */
	unsigned line;
};

/* direct delivery */
/* outbound_tls: TLS towards the MX hosts of direct delivery. */
enum config_outbound_tls {
	CONFIG_OUTBOUND_TLS_DANE = 0,      /* DANE where secure TLSA records
					    * exist, else opportunistic */
	CONFIG_OUTBOUND_TLS_OPPORTUNISTIC, /* STARTTLS when offered */
	CONFIG_OUTBOUND_TLS_REQUIRED,      /* STARTTLS, verified, or no delivery */
	CONFIG_OUTBOUND_TLS_NONE,          /* never */
};

/* sender rules */
/* local_sender_policy: a sender address in a local domain from a client
 * that did not authenticate (and is not in trusted_networks). */
enum config_local_sender {
	CONFIG_LOCAL_SENDER_REJECT = 0, /* 550 5.7.1 */
	CONFIG_LOCAL_SENDER_ALLOW,
};

/* DNS: the default dns_trust_anchor (Debian's dns-root-data), and the
 * most dns_resolver servers. */
#define CONFIG_DNS_TRUST_ANCHOR "/usr/share/dns/root.key"
#define CONFIG_DNS_RESOLVERS_MAX 8

struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

/* dkim_sign DOMAIN SELECTOR KEYFILE: one key that signs the mail of
 * DOMAIN and its subdomains (common/config/config_dkim.h). */
struct config_dkim {
	char *domain;    /* lower case */
	char *selector;
	char *keyfile;   /* absolute after config_load */
	unsigned line;
	struct evp_pkey_st *key; /* NULL until config_dkim_load */
};

/* Room for the keyword table; common/config/config.c checks it at compile time. */
#define CONFIG_MAX_KEYWORDS 96

/* The whole configuration. Strings are owned by the struct; paths are
 * absolute when the file was loaded with config_load (relative ones are
 * resolved against the directory of the file). Sizes are in bytes,
 * durations in seconds, and 0 means "unlimited" where the manual says so. */
struct config {
	char *file;         /* the name the configuration was read under */
	char *hostname;     /* never NULL after config_load */
	char *data_dir;
	char *user_db;
	char *aliases;      /* NULL: no aliases file */
	char *run_as;       /* NULL: stay the user we were started as */
	enum log_level log_level;
	char *log_file;     /* NULL: syslog, or stderr in the foreground */

	struct config_domain *domains;
	size_t n_domains;   /* at least 1 */
	struct config_listen *listeners;
	size_t n_listeners;

	char *tls_cert;     /* both NULL or both set */
	char *tls_key;
	/* DKIM signing keys, in file order */
	struct config_dkim *dkim;
	size_t n_dkim;

	uint64_t max_message_size;
	unsigned long long max_recipients;
	unsigned long long smtp_line_limit;
	unsigned long long max_connections;
	unsigned long long max_connections_per_ip;
	unsigned long long bad_command_limit;
	unsigned smtp_timeout;
	unsigned pop3_timeout;
	char *recipient_delimiter; /* "" when disabled */

	uint64_t quota_bytes;
	unsigned long long quota_messages;
	bool quota_permanent;

	struct config_relayhost relayhost;
	/* ETRN */
	struct config_etrn_domain *etrn_domains;
	size_t n_etrn_domains;
	struct config_etrn_request *etrn_requests;
	size_t n_etrn_requests;
	unsigned queue_lifetime;   /* give up (DSN) after this many seconds */
	unsigned queue_retry_min;  /* back-off after a temporary failure */
	unsigned queue_retry_max;
	unsigned queue_delay_warning; /* delay DSN after this long; 0: never */
	unsigned outbound_timeout; /* 0: the RFC 5321 4.5.3.2 timers */
	char *tls_ca_file;         /* NULL: the system store */
	unsigned long long workers; /* 0: one per CPU */

	unsigned long long password_opslimit;
	uint64_t password_memlimit;
	unsigned login_fail_delay;
	unsigned long long login_fail_limit;
	unsigned login_fail_window;

	/* fetch accounts */
	struct config_fetch *fetch;
	size_t n_fetch;

	/* direct delivery: mail for foreign domains the relayhost does not
	 * take goes to their MX hosts */
	char **relayhost_domains;  /* lower case; none: the relayhost takes all */
	size_t n_relayhost_domains;
	unsigned long long outbound_port;
	char *outbound_helo;       /* NULL: hostname */
	char *outbound_bind4;      /* source addresses (literals), or NULL */
	char *outbound_bind6;
	enum config_outbound_tls outbound_tls;
	unsigned long long outbound_concurrency;   /* sessions per host */
	unsigned long long outbound_max_sessions;  /* sessions in all */
	unsigned long long outbound_address_limit; /* addresses per delivery */
	bool mta_sts;              /* apply the MTA-STS policies of domains */
	unsigned long long mta_sts_port; /* of the policy hosts: 443 */
	unsigned long long hop_limit;              /* Received fields allowed */
	/* DNS */
	/* dns_resolver: "ADDR@PORT" each, the form dns_opts.servers takes
	 * (common/dns/dns.h); none: the servers of /etc/resolv.conf. */
	char **dns_resolver;
	size_t n_dns_resolver;
	char *dns_trust_anchor;    /* NULL: "none", nothing validated */

	/* sender rules */
	enum config_local_sender local_sender_policy;
	struct cidr *trusted_networks; /* clients the sender checks trust */
	size_t n_trusted_networks;
	bool reject_null_mx_sender; /* mx: MAIL from a null-MX domain: 550 */
	bool spf_reject;            /* mx: SPF fail 550, temperror 451 */
	/* mx: DKIM signatures checked per message (0: none). */
	unsigned long long dkim_max_signatures;

	/* local submission (kantorpos-sendmail) */
	char *drop_dir;        /* where kantorpos-sendmail leaves messages;
				* never NULL after config_parse */
	char *sendmail_domain; /* the domain of local users' addresses (lower
				* case); never NULL after config_parse */
	char **sendmail_trusted_users; /* may set any sender (-f) */
	size_t n_sendmail_trusted_users;

	/* The first line of each keyword, by its row in the keyword table
	 * (0: not in the file); read it with config_line. */
	unsigned keyword_line[CONFIG_MAX_KEYWORDS];
};


/* The local domain named `domain` (compared case-insensitively), or NULL.
 * The entry is owned by cfg. */
const struct config_domain *config_find_domain(const struct config *cfg,
					       const char *domain);

/* fetch accounts */
/* The fetch account named `name` (exact match), or NULL. */
const struct config_fetch *config_find_fetch(const struct config *cfg,
					     const char *name);

/* ETRN */
/* The etrn_domain entry that holds mail for domain: the one named so, or
 * one with subdomains whose name domain ends in. NULL when none. */
const struct config_etrn_domain *config_find_etrn(const struct config *cfg,
						  const char *domain);

/* direct delivery */
/* Does the relayhost take mail for domain? Only when one is configured,
 * and then for every domain when relayhost_domains is empty, else for the
 * domains it lists and their subdomains. The one decision of the relay
 * route (routing at RCPT and the route of a queued item). */
bool config_relayhost_takes(const struct config *cfg, const char *domain);

/* The name kantorpos gives in EHLO towards MX hosts: outbound_helo, else
 * hostname. */
const char *config_outbound_helo(const struct config *cfg);

/* sender rules */
/* Is the client at the numeric address addr in trusted_networks? The one
 * decision of which clients the sender checks trust. */
bool config_client_trusted(const struct config *cfg, const char *addr);

/* local submission */
/* May the local account named user set any envelope sender with
 * kantorpos-sendmail -f? Yes for root, run_as and sendmail_trusted_users
 * (the callers also trust the uid the daemons run as). */
bool config_sendmail_trusted(const struct config *cfg, const char *user);

#endif
