/* admin/dnsrec.c: the records a local domain needs, built from the
 * configuration, and their zone-file text (admin/dnsrec.h). */
#include "autoconf.h"

#include "admin/dnsrec.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/config/config.h"
#include "common/dns/dns_name.h"

/* RFC 8461 §3.2: a week, as the policy file's max_age to start with. */
#define MTASTS_START_MAX_AGE 604800
#define LISTEN_ADDRS_MAX 8
/* Comment lines stay within 78 columns with their "; ". */
#define COMMENT_WIDTH 76

struct build {
	const struct dnsrec_env *env;
	struct dnsrec_set *set;
	const char *why;
};

static void appendf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;

	if (o + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

/* A comment line "; TEXT" of r. */
static void note(struct dnsrec *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct dnsrec *r, const char *fmt, ...)
{
	char line[DNSREC_COMMENT_MAX];
	const char *p = line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* wrapped at a blank before COMMENT_WIDTH; a longer word stays whole */
	do {
		size_t n = strlen(p), cut = n;

		if (n > COMMENT_WIDTH) {
			for (cut = COMMENT_WIDTH; cut > 0 && p[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = strcspn(p, " ");
		}
		appendf(r->comment, sizeof(r->comment), "; %.*s\n", (int)cut, p);
		p += cut;
		p += *p == ' ';
	} while (*p != '\0');
}

/* A new record of kind at the owner prefix + name, or NULL (b->why set). */
static struct dnsrec *add(struct build *b, enum dnsrec_kind kind,
			  enum dns_type type, const char *prefix,
			  const char *name)
{
	struct dnsrec *r;
	int k;

	if (b->set->n == DNSREC_MAX) {
		b->why = "too many records";
		return NULL;
	}
	r = &b->set->r[b->set->n];
	memset(r, 0, sizeof(*r));
	k = snprintf(r->owner, sizeof(r->owner), "%s%s", prefix, name);
	if (k < 0 || (size_t)k >= sizeof(r->owner) ||
	    (kind != DNSREC_NOTE && !dns_name_ok(r->owner))) {
		b->why = "a record name would be too long or not a name";
		return NULL;
	}
	r->kind = kind;
	r->type = type;
	b->set->n++;
	return r;
}

/* TXT: the text, and the value as quoted strings of at most 255 octets
 * (RFC 1035 §3.3.14, §5.1). */
static void set_txt(struct dnsrec *r, const char *text)
{
	size_t n = strlen(text);

	snprintf(r->text, sizeof(r->text), "%s", text);
	r->value[0] = '\0';
	for (size_t o = 0; o < n; o += 255) {
		size_t k = n - o > 255 ? 255 : n - o;

		appendf(r->value, sizeof(r->value), "%s\"%.*s\"",
			o > 0 ? " " : "", (int)k, text + o);
	}
}

int dnsrec_spf_include(const char *host, char *out)
{
	unsigned char bin[16];
	const char *dot = strchr(host, '.'), *last = strrchr(host, '.');

	out[0] = '\0';
	if (inet_pton(AF_INET, host, bin) == 1 ||
	    inet_pton(AF_INET6, host, bin) == 1 || dot == NULL)
		return 0;
	snprintf(out, DNS_NAME_MAX + 1, "%s", dot == last ? host : dot + 1);
	return 1;
}

/* Whether the address literal may be published for HOSTNAME: not
 * loopback, unspecified or link-local. */
static bool public_addr(int family, const unsigned char *a)
{
	static const unsigned char zero[16], one[16] = { [15] = 1 };

	if (family == AF_INET)
		return a[0] != 127 && a[0] != 0 && !(a[0] == 169 && a[1] == 254);
	if (memcmp(a, zero, 16) == 0 || memcmp(a, one, 16) == 0)
		return false;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return false;
	/* ::ffff:127.x.x.x: loopback too */
	return !(memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff &&
		 a[12] == 127);
}

size_t dnsrec_listen_addrs(const struct config *cfg, char (*out)[46],
			   size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_listeners && n < max; i++) {
		const struct config_listen *l = &cfg->listeners[i];
		int family = l->addr == CONFIG_ADDR_IPV4 ? AF_INET : AF_INET6;
		unsigned char bin[16];
		bool seen = false;

		if (l->addr != CONFIG_ADDR_IPV4 && l->addr != CONFIG_ADDR_IPV6)
			continue;
		if (inet_pton(family, l->host, bin) != 1 ||
		    !public_addr(family, bin))
			continue;
		inet_ntop(family, bin, out[n], 46);
		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(out[k], out[n]) == 0;
		if (!seen)
			n++;
	}
	return n;
}

/* A listener on a loopback address serves no one outside: no SRV. */
static bool listener_public(const struct config_listen *l)
{
	int family = l->addr == CONFIG_ADDR_IPV4 ? AF_INET : AF_INET6;
	unsigned char bin[16];

	if (l->addr != CONFIG_ADDR_IPV4 && l->addr != CONFIG_ADDR_IPV6)
		return true;
	return inet_pton(family, l->host, bin) != 1 || public_addr(family, bin);
}

static void build_mx(struct build *b)
{
	const struct dnsrec_env *e = b->env;
	struct dnsrec *r = add(b, DNSREC_MX, DNS_T_MX, "", e->domain);

	if (r == NULL)
		return;
	note(r, "MX: mail for %s goes to this host, %s.", e->domain,
	     e->cfg->hostname);
	snprintf(r->target, sizeof(r->target), "%s", e->cfg->hostname);
	snprintf(r->value, sizeof(r->value), "10 %s.", e->cfg->hostname);
}

static void build_addrs(struct build *b, char (*addrs)[46], size_t n)
{
	const char *host = b->env->cfg->hostname;
	struct dnsrec *r;

	if (n == 0) {
		if ((r = add(b, DNSREC_ADDR_ANY, DNS_T_A, "", host)) == NULL)
			return;
		note(r, "A/AAAA: publish the public addresses of %s:", host);
		note(r, "  %s. IN A ADDRESS (and IN AAAA for IPv6); the listen "
		     "lines name none (* or loopback).", host);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool v6 = strchr(addrs[i], ':') != NULL;

		r = add(b, DNSREC_ADDR, v6 ? DNS_T_AAAA : DNS_T_A, "", host);
		if (r == NULL)
			return;
		if (i == 0)
			note(r, "A/AAAA: the addresses of %s (its listeners').",
			     host);
		inet_pton(v6 ? AF_INET6 : AF_INET, addrs[i], r->addr);
		snprintf(r->value, sizeof(r->value), "%s", addrs[i]);
	}
}

static void build_spf(struct build *b)
{
	const struct dnsrec_env *e = b->env;
	const char *relay = e->cfg->relayhost.host;
	char inc[DNS_NAME_MAX + 1], text[DNSREC_VALUE_MAX];
	struct dnsrec *r = add(b, DNSREC_SPF, DNS_T_TXT, "", e->domain);

	if (r == NULL)
		return;
	note(r, "SPF (RFC 7208): the hosts that send mail from %s: its MX "
	     "hosts%s; -all: no other.", e->domain,
	     relay != NULL ? " and the relayhost's" : "");
	snprintf(text, sizeof(text), "v=spf1 mx -all");
	if (relay != NULL && dnsrec_spf_include(relay, inc)) {
		snprintf(text, sizeof(text), "v=spf1 mx include:%s -all", inc);
		note(r, "include:%s is the relayhost %s without its first "
		     "label: the provider documents the exact include to use.",
		     inc, relay);
	} else if (relay != NULL && strchr(relay, '.') == NULL &&
		   strchr(relay, ':') == NULL) {
		note(r, "the relayhost %s is no full name: add the include: its "
		     "provider documents.", relay);
	} else if (relay != NULL) {
		snprintf(text, sizeof(text), "v=spf1 mx %s:%s -all",
			 strchr(relay, ':') != NULL ? "ip6" : "ip4", relay);
	}
	set_txt(r, text);
}

/* The DKIM records: one per dkim_sign key of
 * the domain, as env->dkim lists them. */
static void build_dkim(struct build *b)
{
	const struct dnsrec_env *e = b->env;
	struct dnsrec *r;

	if (e->n_dkim == 0) {
		if ((r = add(b, DNSREC_NOTE, DNS_T_TXT, "", e->domain)) == NULL)
			return;
		note(r, "DKIM (RFC 6376): no dkim_sign key is configured for %s, "
		     "so its mail goes out unsigned; each key's record is "
		     "printed here once there is one.", e->domain);
		return;
	}
	for (size_t i = 0; i < e->n_dkim; i++) {
		char prefix[DNS_NAME_MAX + 1];

		snprintf(prefix, sizeof(prefix), "%s._domainkey.",
			 e->dkim[i].selector);
		if ((r = add(b, DNSREC_DKIM, DNS_T_TXT, prefix, e->domain)) == NULL)
			return;
		note(r, "DKIM (RFC 6376): the public key of selector %s, that "
		     "receivers check the signatures of %s with.",
		     e->dkim[i].selector, e->domain);
		set_txt(r, e->dkim[i].txt);
	}
}

static void build_policies(struct build *b)
{
	const struct dnsrec_env *e = b->env;
	char text[DNSREC_VALUE_MAX], id[32];
	struct dnsrec *r;
	struct tm tm;

	if ((r = add(b, DNSREC_DMARC, DNS_T_TXT, "_dmarc.", e->domain)) == NULL)
		return;
	note(r, "DMARC (RFC 7489): mail whose From: is %s and passes neither "
	     "SPF nor DKIM goes to the junk folder (p=quarantine; p=none only "
	     "watches, p=reject refuses it); reports go to rua.", e->domain);
	snprintf(text, sizeof(text),
		 "v=DMARC1; p=quarantine; rua=mailto:postmaster@%s", e->domain);
	set_txt(r, text);

	if ((r = add(b, DNSREC_MTASTS, DNS_T_TXT, "_mta-sts.", e->domain)) == NULL)
		return;
	gmtime_r(&e->now, &tm);
	strftime(id, sizeof(id), "%Y%m%d%H%M%S", &tm);
	note(r, "MTA-STS (RFC 8461): senders must use TLS to the MX.");
	note(r, "First serve the policy file at");
	note(r, "https://mta-sts.%s/.well-known/mta-sts.txt", e->domain);
	note(r, "(a web server with a certificate for mta-sts.%s, and that "
	     "name's A/AAAA), holding:", e->domain);
	note(r, "  version: STSv1");
	note(r, "  mode: testing");
	note(r, "  mx: %s", e->cfg->hostname);
	note(r, "  max_age: %d", MTASTS_START_MAX_AGE);
	note(r, "then this record; give it a new id whenever the file changes, "
	     "and mode: enforce once the TLS reports are clean.");
	snprintf(text, sizeof(text), "v=STSv1; id=%s", id);
	set_txt(r, text);

	if ((r = add(b, DNSREC_TLSRPT, DNS_T_TXT, "_smtp._tls.", e->domain)) == NULL)
		return;
	note(r, "TLS-RPT (RFC 8460): where senders report TLS failures "
	     "towards %s.", e->domain);
	snprintf(text, sizeof(text), "v=TLSRPTv1; rua=mailto:postmaster@%s",
		 e->domain);
	set_txt(r, text);
}

/* The service name of a listener for RFC 6186 and RFC 8314, or NULL. */
static const char *srv_service(const struct config_listen *l, bool *tls_r)
{
	if (l->proto == CONFIG_PROTO_POP3) {
		*tls_r = l->tls;
		return l->tls ? "_pop3s" : "_pop3";
	}
	if (l->role == CONFIG_ROLE_SUBMISSIONS ||
	    (l->role == CONFIG_ROLE_SUBMISSION && l->tls)) {
		*tls_r = true;
		return "_submissions";
	}
	*tls_r = false;
	return l->role == CONFIG_ROLE_SUBMISSION ? "_submission" : NULL;
}

static bool srv_seen(const struct dnsrec_set *s, const char *owner,
		     unsigned port)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->r[i].kind == DNSREC_SRV && s->r[i].port == port &&
		    strcmp(s->r[i].owner, owner) == 0)
			return true;
	return false;
}

static void build_srv(struct build *b)
{
	const struct dnsrec_env *e = b->env;
	bool first = true;

	for (size_t i = 0; i < e->cfg->n_listeners; i++) {
		const struct config_listen *l = &e->cfg->listeners[i];
		char prefix[32], owner[DNS_NAME_MAX + 1];
		const char *svc;
		struct dnsrec *r;
		bool tls;

		if ((svc = srv_service(l, &tls)) == NULL || !listener_public(l))
			continue;
		snprintf(prefix, sizeof(prefix), "%s._tcp.", svc);
		snprintf(owner, sizeof(owner), "%s%s", prefix, e->domain);
		if (srv_seen(b->set, owner, l->port))
			continue;
		if ((r = add(b, DNSREC_SRV, DNS_T_SRV, prefix, e->domain)) == NULL)
			return;
		if (first)
			note(r, "SRV (RFC 6186, RFC 8314): where mail programs find "
			     "submission and POP3; implicit TLS first (priority 0).");
		first = false;
		r->port = l->port;
		snprintf(r->target, sizeof(r->target), "%s", e->cfg->hostname);
		snprintf(r->value, sizeof(r->value), "%u 1 %u %s.", tls ? 0 : 10,
			 l->port, e->cfg->hostname);
	}
}

static void build_ptr(struct build *b, char (*addrs)[46], size_t n)
{
	const char *host = b->env->cfg->hostname;
	struct dnsrec *r;

	if (n == 0) {
		if ((r = add(b, DNSREC_NOTE, DNS_T_PTR, "", host)) == NULL)
			return;
		note(r, "PTR: the reverse record of each address of %s must name "
		     "%s; whoever gives you the address publishes it.", host, host);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (b->set->n == DNSREC_MAX) {
			b->why = "too many records";
			return;
		}
		r = &b->set->r[b->set->n];
		if (dnsrec_ptr(addrs[i], host, r) < 0)
			continue;
		b->set->n++;
		r->commented = true;
		note(r, "PTR: the reverse record of %s must name %s; whoever "
		     "gives you the address publishes it:", addrs[i], host);
	}
}

int dnsrec_ptr(const char *addr, const char *hostname, struct dnsrec *r)
{
	memset(r, 0, sizeof(*r));
	if (dns_name_reverse(addr, r->owner) < 0)
		return -1;
	r->kind = DNSREC_PTR;
	r->type = DNS_T_PTR;
	snprintf(r->target, sizeof(r->target), "%s", hostname);
	snprintf(r->value, sizeof(r->value), "%s.", hostname);
	snprintf(r->text, sizeof(r->text), "%s", addr); /* what to ask */
	return 0;
}

static void build_tlsa(struct build *b)
{
	const struct dnsrec_env *e = b->env;
	const char *host = e->cfg->hostname;
	struct dnsrec *r;

	if (e->spki_sha256 == NULL) {
		if ((r = add(b, DNSREC_NOTE, DNS_T_TLSA, "_25._tcp.", host)) == NULL)
			return;
		note(r, "TLSA (DANE, RFC 7672): needs a certificate: set tls_cert "
		     "and tls_key, then run this again.");
		return;
	}
	if ((r = add(b, DNSREC_TLSA, DNS_T_TLSA, "_25._tcp.", host)) == NULL)
		return;
	note(r, "TLSA (DANE, RFC 7672): the SHA-256 of the public key of "
	     "tls_cert; senders that validate DNSSEC then require it.");
	note(r, "Only in a signed zone; a new key needs its record published "
	     "before it is used.");
	snprintf(r->value, sizeof(r->value), "3 1 1 ");
	for (size_t i = 0; i < 32; i++)
		appendf(r->value, sizeof(r->value), "%02x", e->spki_sha256[i]);
}

int dnsrec_build(const struct dnsrec_env *env, struct dnsrec_set *set,
		 const char **why_r)
{
	char addrs[LISTEN_ADDRS_MAX][46];
	size_t n_addrs = dnsrec_listen_addrs(env->cfg, addrs, LISTEN_ADDRS_MAX);
	struct build b = { .env = env, .set = set };

	set->n = 0;
	build_mx(&b);
	build_addrs(&b, addrs, n_addrs);
	build_spf(&b);
	build_dkim(&b);
	build_policies(&b);
	build_srv(&b);
	build_ptr(&b, addrs, n_addrs);
	build_tlsa(&b);
	if (b.why != NULL) {
		*why_r = b.why;
		return -1;
	}
	return 0;
}

const char *dnsrec_label(const struct dnsrec *r)
{
	switch (r->kind) {
	case DNSREC_MX: return "MX";
	case DNSREC_ADDR: return r->type == DNS_T_AAAA ? "AAAA" : "A";
	case DNSREC_ADDR_ANY: return "A/AAAA";
	case DNSREC_SPF: return "SPF";
	case DNSREC_DKIM: return "DKIM";
	case DNSREC_DMARC: return "DMARC";
	case DNSREC_MTASTS: return "MTA-STS";
	case DNSREC_TLSRPT: return "TLS-RPT";
	case DNSREC_SRV: return "SRV";
	case DNSREC_PTR: return "PTR";
	case DNSREC_TLSA: return "TLSA";
	case DNSREC_NOTE: return "NOTE";
	}
	return "?";
}

void dnsrec_format(const struct dnsrec *r, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	snprintf(out, outlen, "%s", r->comment);
	if (r->kind == DNSREC_ADDR_ANY || r->kind == DNSREC_NOTE)
		return;
	appendf(out, outlen, "%s%s. IN %s %s\n", r->commented ? ";   " : "",
		r->owner, dns_type_str(r->type), r->value);
}
