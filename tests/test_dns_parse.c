/* tests/test_dns_parse.c: the DNS answer parser (common/dns/dns_parse) and
 * the name helpers under it (common/dns/dns_name): tables of hand-built
 * messages and the answers they must give, every message also cut short at
 * every offset (DNS_TEMPFAIL or the same answer, never a read outside it:
 * each input is an exact-size heap copy, so the sanitizers see overreads),
 * and the null MX test of an answer (common/dns/dns_types). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dns/dns_name.h"
#include "common/dns/dns_parse.h"
#include "tests/helpers/dnsfmt.h"

/* ---- building messages ---- */

struct pkt {
	uint8_t b[70000];
	size_t n;
};

enum { QR_RD_RA = 0x8180, T_CNAME = 5, T_SOA = 6, T_RRSIG = 46, Q = 12 };

static void u8(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (uint8_t)v;
}

static void u16(struct pkt *p, unsigned v)
{
	u8(p, v >> 8);
	u8(p, v & 0xff);
}

static void u32(struct pkt *p, uint32_t v)
{
	u16(p, v >> 16);
	u16(p, v & 0xffff);
}

static void raw(struct pkt *p, const void *s, size_t n)
{
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

/* The labels of a dotted name, without the root label (end it with
 * root() or ptr()). */
static void labels(struct pkt *p, const char *s)
{
	while (*s != '\0') {
		size_t k = strcspn(s, ".");

		u8(p, (unsigned)k);
		raw(p, s, k);
		s += k;
		if (*s == '.')
			s++;
	}
}

static void root(struct pkt *p)
{
	u8(p, 0);
}

static void ptr(struct pkt *p, size_t off)
{
	u16(p, 0xc000 | (unsigned)off);
}

static void name(struct pkt *p, const char *s)
{
	labels(p, s);
	root(p);
}

static void head(struct pkt *p, unsigned flags, unsigned an, unsigned ns)
{
	p->n = 0;
	u16(p, 0x1234);
	u16(p, flags);
	u16(p, 1);
	u16(p, an);
	u16(p, ns);
	u16(p, 0);
}

/* The header and the question for qname (at offset Q). */
static void ask(struct pkt *p, unsigned flags, const char *qname,
		unsigned type, unsigned an, unsigned ns)
{
	head(p, flags, an, ns);
	name(p, qname);
	u16(p, type);
	u16(p, 1);
}

/* A record's fixed part after its owner; returns where RDLENGTH goes. */
static size_t rr(struct pkt *p, unsigned type, uint32_t ttl)
{
	size_t at;

	u16(p, type);
	u16(p, 1);
	u32(p, ttl);
	at = p->n;
	u16(p, 0);
	return at;
}

/* A record owned by the question's name (a pointer to it), TTL 300. */
static size_t rr_q(struct pkt *p, unsigned type)
{
	ptr(p, Q);
	return rr(p, type, 300);
}

static void rr_end(struct pkt *p, size_t at)
{
	size_t len = p->n - at - 2;

	p->b[at] = (uint8_t)(len >> 8);
	p->b[at + 1] = (uint8_t)len;
}

/* owner (a pointer to the question's name when owner is NULL) MX pref
 * host, where host "x" + NULL suffix means "x" under the question. */
static void mx(struct pkt *p, uint32_t ttl, unsigned pref, const char *host,
	       bool under_q)
{
	size_t at;

	ptr(p, Q);
	at = rr(p, DNS_T_MX, ttl);
	u16(p, pref);
	labels(p, host);
	if (under_q)
		ptr(p, Q);
	else
		root(p);
	rr_end(p, at);
}

static void cname(struct pkt *p, const char *from, const char *to)
{
	size_t at;

	name(p, from);
	at = rr(p, T_CNAME, 600);
	name(p, to);
	rr_end(p, at);
}

static void soa(struct pkt *p, uint32_t ttl, uint32_t minimum)
{
	size_t at;

	ptr(p, Q);
	at = rr(p, T_SOA, ttl);
	name(p, "ns.test");
	name(p, "hostmaster.test");
	u32(p, 1);
	u32(p, 3600);
	u32(p, 600);
	u32(p, 86400);
	u32(p, minimum);
	rr_end(p, at);
}

static void txt(struct pkt *p, const char *const *strings, size_t n)
{
	size_t at;

	at = rr_q(p, DNS_T_TXT);
	for (size_t i = 0; i < n; i++) {
		u8(p, (unsigned)strlen(strings[i]));
		raw(p, strings[i], strlen(strings[i]));
	}
	rr_end(p, at);
}

static void tlsa(struct pkt *p, size_t len)
{
	size_t at;

	at = rr_q(p, DNS_T_TLSA);
	u8(p, 3);
	u8(p, 1);
	u8(p, len == 64 ? 2 : 1);
	for (size_t i = 0; i < len; i++)
		u8(p, (unsigned)i);
	rr_end(p, at);
}

static void addr(struct pkt *p, unsigned type, const void *a, size_t len)
{
	size_t at;

	at = rr_q(p, type);
	raw(p, a, len);
	rr_end(p, at);
}

/* ---- the messages ---- */

static void b_mx(struct pkt *p)
{
	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 3, 0);
	mx(p, 300, 20, "b", true);
	mx(p, 200, 10, "a", true);
	mx(p, 300, 10, "c.example.org", false);
}

static void b_mx_ties(struct pkt *p)
{
	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 4, 0);
	mx(p, 300, 10, "b", true);
	mx(p, 300, 10, "a", true);
	mx(p, 300, 5, "c", true);
	mx(p, 300, 10, "d", true);
}

static void b_nullmx(struct pkt *p)
{
	ask(p, QR_RD_RA, "nullmx.test", DNS_T_MX, 1, 0);
	mx(p, 300, 0, "", false);
}

static void b_a(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "aonly.test", DNS_T_A, 4, 0);
	addr(p, DNS_T_A, "\xc0\x00\x02\x01", 4);
	name(p, "other.test");                /* another owner: not ours */
	at = rr(p, DNS_T_A, 300);
	raw(p, "\x0a\x00\x00\x01", 4);
	rr_end(p, at);
	ptr(p, Q);                            /* a signature: ignored */
	at = rr(p, T_RRSIG, 300);
	raw(p, "\x00\x01\x02", 3);
	rr_end(p, at);
	addr(p, DNS_T_A, "\xc0\x00\x02\x02", 4);
}

static void b_aaaa(struct pkt *p)
{
	ask(p, QR_RD_RA, "aonly.test", DNS_T_AAAA, 1, 0);
	addr(p, DNS_T_AAAA, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
}

static void b_txt(struct pkt *p)
{
	static const char *const spf[] = { "v=spf1 ", "ip4:192.0.2.0/24", " -all" };
	static const char *const q[] = { "say \"hi\"", "" };

	ask(p, QR_RD_RA, "remote.test", DNS_T_TXT, 2, 0);
	txt(p, spf, 3);
	txt(p, q, 2);
}

static void b_txt_nul(struct pkt *p)
{
	static const char *const ok[] = { "fine" };
	size_t at;

	ask(p, QR_RD_RA, "remote.test", DNS_T_TXT, 2, 0);
	at = rr_q(p, DNS_T_TXT);
	raw(p, "\x03" "a\0b", 4);
	rr_end(p, at);
	txt(p, ok, 1);
}

static void b_txt_long(struct pkt *p)
{
	char s[256];
	const char *strings[17];

	memset(s, 'x', 255);
	s[255] = '\0';
	for (size_t i = 0; i < 17; i++)
		strings[i] = s;
	ask(p, QR_RD_RA, "remote.test", DNS_T_TXT, 1, 0);
	txt(p, strings, 17);                  /* 4335 octets joined */
}

static void b_tlsa32(struct pkt *p)
{
	ask(p, QR_RD_RA, "_25._tcp.mx.dane.test", DNS_T_TLSA, 1, 0);
	tlsa(p, 32);
}

static void b_tlsa64(struct pkt *p)
{
	ask(p, QR_RD_RA, "_25._tcp.mx.dane.test", DNS_T_TLSA, 1, 0);
	tlsa(p, 64);
}

static void b_tlsa0(struct pkt *p)
{
	ask(p, QR_RD_RA, "_25._tcp.mx.dane.test", DNS_T_TLSA, 1, 0);
	tlsa(p, 0);
}

static void b_ptr(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "1.2.0.192.in-addr.arpa", DNS_T_PTR, 1, 0);
	at = rr_q(p, DNS_T_PTR);
	name(p, "mail.example.org");
	rr_end(p, at);
}

/* SRV (RFC 2782): priority, weight, port, a compressed target. */
static void srv(struct pkt *p, unsigned prio, unsigned port, const char *host)
{
	size_t at;

	at = rr_q(p, DNS_T_SRV);
	u16(p, prio);
	u16(p, 1);
	u16(p, port);
	if (host[0] == '\0') {
		root(p);
	} else {
		labels(p, host);
		ptr(p, Q + 1 + strlen("_submission") + 1 + strlen("_tcp"));
	}
	rr_end(p, at);
}

static void b_srv(struct pkt *p)
{
	ask(p, QR_RD_RA, "_submission._tcp.remote.test", DNS_T_SRV, 2, 0);
	srv(p, 10, 587, "mail");
	srv(p, 0, 0, "");
}

static void b_srv_short(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "_submission._tcp.remote.test", DNS_T_SRV, 1, 0);
	at = rr_q(p, DNS_T_SRV);
	raw(p, "\0\x0a\0\x01\x02\x4b", 6);
	rr_end(p, at);
}

static void b_srv_trailing(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "_submission._tcp.remote.test", DNS_T_SRV, 1, 0);
	at = rr_q(p, DNS_T_SRV);
	raw(p, "\0\x0a\0\x01\x02\x4b", 6);
	name(p, "mail.test");
	u8(p, 0);
	rr_end(p, at);
}

static void b_escapes(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "1.2.0.192.in-addr.arpa", DNS_T_PTR, 1, 0);
	at = rr_q(p, DNS_T_PTR);
	raw(p, "\x03" "a.b" "\x02" "\x01\\" "\x04" "test" "\0", 13);
	rr_end(p, at);
}

static void b_cname(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "alias.test", DNS_T_MX, 2, 0);
	cname(p, "ALIAS.test", "real.test");
	name(p, "real.test");
	at = rr(p, DNS_T_MX, 300);
	u16(p, 10);
	name(p, "mx.real.test");
	rr_end(p, at);
}

/* A chain c0.test -> c1.test -> ... -> cN.test, and cN.test's MX. */
static void chain(struct pkt *p, unsigned links)
{
	char from[24], to[24];
	size_t at;

	ask(p, QR_RD_RA, "c0.test", DNS_T_MX, links + 1, 0);
	for (unsigned i = 0; i < links; i++) {
		snprintf(from, sizeof(from), "c%u.test", i);
		snprintf(to, sizeof(to), "c%u.test", i + 1);
		cname(p, from, to);
	}
	snprintf(to, sizeof(to), "c%u.test", links);
	name(p, to);
	at = rr(p, DNS_T_MX, 300);
	u16(p, 10);
	name(p, "mx.test");
	rr_end(p, at);
}

static void b_chain8(struct pkt *p)
{
	chain(p, 8);
}

static void b_chain9(struct pkt *p)
{
	chain(p, 9);
}

static void b_loop(struct pkt *p)
{
	ask(p, QR_RD_RA, "loop.test", DNS_T_MX, 2, 0);
	cname(p, "loop.test", "loop2.test");
	cname(p, "loop2.test", "loop.test");
}

static void b_nodata(struct pkt *p)
{
	ask(p, QR_RD_RA, "aonly.test", DNS_T_MX, 0, 1);
	soa(p, 3600, 300);
}

static void b_nxdomain(struct pkt *p)
{
	ask(p, QR_RD_RA | 3, "nx.test", DNS_T_MX, 0, 1);
	soa(p, 60, 300);
}

static void b_nx_cname(struct pkt *p)
{
	ask(p, QR_RD_RA | 3, "alias.test", DNS_T_A, 1, 0);
	cname(p, "alias.test", "gone.test");
}

static void b_no_soa(struct pkt *p)
{
	ask(p, QR_RD_RA, "aonly.test", DNS_T_MX, 0, 0);
}

static void b_class(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "aonly.test", DNS_T_A, 1, 0);
	ptr(p, Q);
	u16(p, DNS_T_A);
	u16(p, 3);                            /* CHAOS */
	u32(p, 300);
	at = p->n;
	u16(p, 0);
	raw(p, "\x01\x02\x03\x04\x05", 5);
	rr_end(p, at);
}

static void b_servfail(struct pkt *p)
{
	ask(p, QR_RD_RA | 2, "remote.test", DNS_T_MX, 0, 0);
}

static void b_refused(struct pkt *p)
{
	ask(p, QR_RD_RA | 5, "remote.test", DNS_T_MX, 0, 0);
}

static void b_tc(struct pkt *p)
{
	ask(p, QR_RD_RA | 0x0200, "remote.test", DNS_T_MX, 0, 0);
}

static void b_query(struct pkt *p)
{
	ask(p, 0x0100, "remote.test", DNS_T_MX, 0, 0);
}

static void b_other_q(struct pkt *p)
{
	ask(p, QR_RD_RA, "remote.test", DNS_T_A, 1, 0);
	mx(p, 300, 10, "a", true);
}

static void b_two_q(struct pkt *p)
{
	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 0, 0);
	p->b[5] = 2;
}

static void b_short(struct pkt *p)
{
	head(p, QR_RD_RA, 0, 0);
	p->n = 11;
}

static void b_ptr_self(struct pkt *p)
{
	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 1, 0);
	ptr(p, p->n);                         /* points at itself */
	rr(p, DNS_T_MX, 300);
}

static void b_ptr_loop(struct pkt *p)
{
	size_t a;

	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 1, 0);
	a = p->n;
	labels(p, "x");
	ptr(p, a);                            /* x.x.x.x... */
	rr(p, DNS_T_MX, 300);
}

static void b_ptr_past(struct pkt *p)
{
	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 1, 0);
	ptr(p, 0x3fff);
	rr(p, DNS_T_MX, 300);
}

static void b_label64(struct pkt *p)
{
	char l[65];

	memset(l, 'a', 64);
	l[64] = '\0';
	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 1, 0);
	u8(p, 64);
	raw(p, l, 64);
	ptr(p, Q);
	rr(p, DNS_T_MX, 300);
}

/* Labels of 63, 63, 63 and n octets: 3 * 64 + (n + 1) + 1 on the wire. */
static void long_name(struct pkt *p, size_t n)
{
	char l[64];

	memset(l, 'a', 63);
	for (int i = 0; i < 3; i++) {
		u8(p, 63);
		raw(p, l, 63);
	}
	u8(p, (unsigned)n);
	raw(p, l, n);
	root(p);
}

static void b_name255(struct pkt *p)
{
	head(p, QR_RD_RA, 0, 0);
	long_name(p, 61);                     /* 255 octets: the longest */
	u16(p, DNS_T_MX);
	u16(p, 1);
}

static void b_name256(struct pkt *p)
{
	head(p, QR_RD_RA, 0, 0);
	long_name(p, 62);
	u16(p, DNS_T_MX);
	u16(p, 1);
}

static void b_name_via_ptr(struct pkt *p)
{
	char l[64];

	memset(l, 'b', 63);
	b_name255(p);
	p->b[7] = 1;
	u8(p, 63);
	raw(p, l, 63);
	ptr(p, Q);                            /* 64 + 255 octets */
	rr(p, DNS_T_MX, 300);
}

static void b_a_len(struct pkt *p)
{
	ask(p, QR_RD_RA, "aonly.test", DNS_T_A, 1, 0);
	addr(p, DNS_T_A, "\x01\x02\x03\x04\x05", 5);
}

static void b_rd_past(struct pkt *p)
{
	ask(p, QR_RD_RA, "aonly.test", DNS_T_A, 1, 0);
	addr(p, DNS_T_A, "\x01\x02\x03\x04", 4);
	p->b[p->n - 5] = 5;
}

static void b_too_many(struct pkt *p)
{
	ask(p, QR_RD_RA, "aonly.test", DNS_T_A, 1000, 0);
	addr(p, DNS_T_A, "\x01\x02\x03\x04", 4);
}

static void b_mx_trailing(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 1, 0);
	at = rr_q(p, DNS_T_MX);
	u16(p, 10);
	name(p, "a.test");
	u8(p, 0);
	rr_end(p, at);
}

static void b_mx_name_out(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 1, 0);
	at = rr_q(p, DNS_T_MX);
	u16(p, 10);
	name(p, "a.test");
	rr_end(p, at);
	p->b[at + 1] -= 2;                    /* the name ends outside */
	u16(p, 0);
}

static void b_txt_empty(struct pkt *p)
{
	size_t at;

	ask(p, QR_RD_RA, "remote.test", DNS_T_TXT, 1, 0);
	at = rr_q(p, DNS_T_TXT);
	rr_end(p, at);
}

static void b_ttl_high(struct pkt *p)
{
	ask(p, QR_RD_RA, "remote.test", DNS_T_MX, 1, 0);
	mx(p, 0x80000000u, 10, "a", true);
}

static const char tlsa32[] =
	"3 1 1 000102030405060708090a0b0c0d0e0f"
	"101112131415161718191a1b1c1d1e1f";
static const char tlsa64[] =
	"3 1 2 000102030405060708090a0b0c0d0e0f"
	"101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f"
	"303132333435363738393a3b3c3d3e3f";

static const struct row {
	const char *what;
	void (*build)(struct pkt *);
	enum dns_type type;
	enum dns_status status;
	const char *why;        /* TEMPFAIL: the reason */
	const char *canon;      /* NULL: the question's name */
	const char *records;
	bool capped;
	uint32_t ttl;
} rows[] = {
	{ "MX sorted, compressed", b_mx, DNS_T_MX, DNS_OK, NULL, NULL,
	  "10 a.remote.test. 10 c.example.org. 20 b.remote.test.", false, 200 },
	{ "MX ties in message order", b_mx_ties, DNS_T_MX, DNS_OK, NULL, NULL,
	  "5 c.remote.test. 10 b.remote.test. 10 a.remote.test. 10 d.remote.test.",
	  false, 300 },
	{ "null MX", b_nullmx, DNS_T_MX, DNS_OK, NULL, NULL, "0 .", false, 300 },
	{ "A, others' and RRSIG left out", b_a, DNS_T_A, DNS_OK, NULL, NULL,
	  "192.0.2.1 192.0.2.2", false, 300 },
	{ "AAAA", b_aaaa, DNS_T_AAAA, DNS_OK, NULL, NULL, "2001:db8::1", false, 300 },
	{ "TXT strings joined", b_txt, DNS_T_TXT, DNS_OK, NULL, NULL,
	  "\"v=spf1 ip4:192.0.2.0/24 -all\" \"say \\\"hi\\\"\"", false, 300 },
	{ "TXT with a NUL dropped", b_txt_nul, DNS_T_TXT, DNS_OK, NULL, NULL,
	  "\"fine\"", true, 300 },
	{ "TXT over 4096 dropped", b_txt_long, DNS_T_TXT, DNS_NODATA, NULL, NULL,
	  "", true, 300 },
	{ "TLSA of 32", b_tlsa32, DNS_T_TLSA, DNS_OK, NULL, NULL, tlsa32, false, 300 },
	{ "TLSA of 64", b_tlsa64, DNS_T_TLSA, DNS_OK, NULL, NULL, tlsa64, false, 300 },
	{ "TLSA of 0", b_tlsa0, DNS_T_TLSA, DNS_OK, NULL, NULL, "3 1 1 -", false, 300 },
	{ "PTR", b_ptr, DNS_T_PTR, DNS_OK, NULL, NULL, "mail.example.org.", false, 300 },
	{ "SRV, and the target \".\"", b_srv, DNS_T_SRV, DNS_OK, NULL, NULL,
	  "10 1 587 mail.remote.test. 0 1 0 .", false, 300 },
	{ "SRV of 6 octets", b_srv_short, DNS_T_SRV, DNS_TEMPFAIL,
	  "SRV record too short", NULL, "", false, 0 },
	{ "SRV with trailing octets", b_srv_trailing, DNS_T_SRV, DNS_TEMPFAIL,
	  "octets after the name in a record", NULL, "", false, 0 },
	{ "escapes", b_escapes, DNS_T_PTR, DNS_OK, NULL, NULL,
	  "a\\.b.\\001\\\\.test.", false, 300 },
	{ "CNAME, any case", b_cname, DNS_T_MX, DNS_OK, NULL, "real.test",
	  "10 mx.real.test.", false, 300 },
	{ "CNAME chain of 8", b_chain8, DNS_T_MX, DNS_OK, NULL, "c8.test",
	  "10 mx.test.", false, 300 },
	{ "CNAME chain of 9", b_chain9, DNS_T_MX, DNS_TEMPFAIL,
	  "CNAME chain too long", NULL, "", false, 0 },
	{ "CNAME loop", b_loop, DNS_T_MX, DNS_TEMPFAIL, "CNAME chain too long",
	  NULL, "", false, 0 },
	{ "NODATA", b_nodata, DNS_T_MX, DNS_NODATA, NULL, NULL, "", false, 300 },
	{ "NXDOMAIN", b_nxdomain, DNS_T_MX, DNS_NXDOMAIN, NULL, NULL, "", false, 60 },
	{ "NXDOMAIN after a CNAME", b_nx_cname, DNS_T_A, DNS_NXDOMAIN, NULL,
	  "gone.test", "", false, 600 },
	{ "NODATA without SOA", b_no_soa, DNS_T_MX, DNS_NODATA, NULL, NULL, "",
	  false, 0 },
	{ "class CH left out", b_class, DNS_T_A, DNS_NODATA, NULL, NULL, "", false, 0 },
	{ "SERVFAIL", b_servfail, DNS_T_MX, DNS_TEMPFAIL,
	  "server failure (SERVFAIL)", NULL, "", false, 0 },
	{ "REFUSED", b_refused, DNS_T_MX, DNS_TEMPFAIL, "query refused (REFUSED)",
	  NULL, "", false, 0 },
	{ "TC", b_tc, DNS_T_MX, DNS_TEMPFAIL, "truncated answer (TC)", NULL, "",
	  false, 0 },
	{ "a query", b_query, DNS_T_MX, DNS_TEMPFAIL, "not a response", NULL, "",
	  false, 0 },
	{ "another question", b_other_q, DNS_T_MX, DNS_TEMPFAIL,
	  "answer to another question", NULL, "", false, 0 },
	{ "two questions", b_two_q, DNS_T_MX, DNS_TEMPFAIL, "not one question",
	  NULL, "", false, 0 },
	{ "short header", b_short, DNS_T_MX, DNS_TEMPFAIL,
	  "message shorter than its header", NULL, "", false, 0 },
	{ "pointer to itself", b_ptr_self, DNS_T_MX, DNS_TEMPFAIL,
	  "compression pointer does not point back", NULL, "", false, 0 },
	{ "pointer loop", b_ptr_loop, DNS_T_MX, DNS_TEMPFAIL,
	  "compression pointer does not point back", NULL, "", false, 0 },
	{ "pointer past the end", b_ptr_past, DNS_T_MX, DNS_TEMPFAIL,
	  "compression pointer past the end of the message", NULL, "", false, 0 },
	{ "label of 64", b_label64, DNS_T_MX, DNS_TEMPFAIL,
	  "label over 63 octets or of an unknown type", NULL, "", false, 0 },
	{ "name of 255", b_name255, DNS_T_MX, DNS_NODATA, NULL, NULL, "", false, 0 },
	{ "name of 256", b_name256, DNS_T_MX, DNS_TEMPFAIL, "name over 255 octets",
	  NULL, "", false, 0 },
	{ "name over 255 through a pointer", b_name_via_ptr, DNS_T_MX,
	  DNS_TEMPFAIL, "name over 255 octets", NULL, "", false, 0 },
	{ "A of 5 octets", b_a_len, DNS_T_A, DNS_TEMPFAIL,
	  "A record not of 4 octets", NULL, "", false, 0 },
	{ "RDATA past the end", b_rd_past, DNS_T_A, DNS_TEMPFAIL,
	  "record data past the end of the message", NULL, "", false, 0 },
	{ "1000 records claimed", b_too_many, DNS_T_A, DNS_TEMPFAIL,
	  "more records than the message holds", NULL, "", false, 0 },
	{ "MX with trailing octets", b_mx_trailing, DNS_T_MX, DNS_TEMPFAIL,
	  "octets after the name in a record", NULL, "", false, 0 },
	{ "MX name out of its record", b_mx_name_out, DNS_T_MX, DNS_TEMPFAIL,
	  "label runs past the end", NULL, "", false, 0 },
	{ "empty TXT", b_txt_empty, DNS_T_TXT, DNS_TEMPFAIL, "empty TXT record",
	  NULL, "", false, 0 },
	{ "TTL with the top bit", b_ttl_high, DNS_T_MX, DNS_OK, NULL, NULL,
	  "10 a.remote.test.", false, 0 },
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

/* Parse an exact-size heap copy of the first len octets of p. */
static void parse(const struct pkt *p, size_t len, enum dns_type type,
		  struct dns_answer *a)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);

	cr_assert_not_null(copy);
	memcpy(copy, p->b, len);
	dns_parse(copy, len, type, a);
	free(copy);
}

Test(dns_parse, table)
{
	static struct pkt p;
	char got[8192];

	for (size_t i = 0; i < N_ROWS; i++) {
		const struct row *r = &rows[i];
		struct dns_answer a;

		r->build(&p);
		parse(&p, p.n, r->type, &a);
		dnsfmt_records(&a, got, sizeof(got));
		cr_expect_eq(a.status, r->status, "%s: status %s", r->what,
			     dns_status_str(a.status));
		cr_expect_str_eq(got, r->records, "%s", r->what);
		cr_expect_eq(a.capped, r->capped, "%s: capped", r->what);
		cr_expect_eq(a.ttl, r->ttl, "%s: ttl %u", r->what, a.ttl);
		cr_expect_eq(a.type, r->type, "%s: type", r->what);
		cr_expect_eq(a.security, DNS_INSECURE, "%s: security", r->what);
		if (r->why != NULL)
			cr_expect(a.why != NULL && strcmp(a.why, r->why) == 0,
				  "%s: why %s", r->what, a.why ? a.why : "(none)");
		else
			cr_expect_null(a.why, "%s: why %s", r->what, a.why);
		if (r->status != DNS_TEMPFAIL)
			cr_expect_str_eq(a.canon, r->canon ? r->canon : a.qname,
					 "%s: canon", r->what);
		dns_answer_free(&a);
	}
}

/* Cut short anywhere, a message gives DNS_TEMPFAIL or, when only octets
 * the parser does not need are gone, the very same answer. */
Test(dns_parse, truncated_at_every_offset)
{
	static struct pkt p;
	char full[8192], got[8192];

	for (size_t i = 0; i < N_ROWS; i++) {
		struct dns_answer whole, a;

		rows[i].build(&p);
		parse(&p, p.n, rows[i].type, &whole);
		dnsfmt_records(&whole, full, sizeof(full));
		for (size_t len = 0; len < p.n; len++) {
			parse(&p, len, rows[i].type, &a);
			dnsfmt_records(&a, got, sizeof(got));
			if (a.status != DNS_TEMPFAIL) {
				cr_expect_eq(a.status, whole.status, "%s cut at %zu",
					     rows[i].what, len);
				cr_expect_str_eq(got, full, "%s cut at %zu",
						 rows[i].what, len);
			} else {
				cr_expect_not_null(a.why, "%s cut at %zu",
						   rows[i].what, len);
				cr_expect_eq(a.n, 0);
			}
			dns_answer_free(&a);
		}
		dns_answer_free(&whole);
	}
}

/* 200 MX records, worst first: the 100 best come back, sorted. */
Test(dns_parse, mx_capped)
{
	static struct pkt p;
	struct dns_answer a;
	char host[16];

	ask(&p, QR_RD_RA, "remote.test", DNS_T_MX, 200, 0);
	for (unsigned i = 0; i < 200; i++) {
		snprintf(host, sizeof(host), "h%u", 199 - i);
		mx(&p, 300, 199 - i, host, true);
	}
	parse(&p, p.n, DNS_T_MX, &a);
	cr_assert_eq(a.status, DNS_OK);
	cr_assert_eq(a.n, DNS_MAX_RECORDS);
	cr_expect(a.capped);
	for (unsigned i = 0; i < a.n; i++) {
		snprintf(host, sizeof(host), "h%u.remote.test", i);
		cr_expect_eq(a.mx[i].pref, i);
		cr_expect_str_eq(a.mx[i].host, host);
	}
	dns_answer_free(&a);
	cr_expect_eq(a.n, 0);
	cr_expect_null(a.mx);
}

/* ---- names ---- */

Test(dns_name, ok)
{
	static const struct {
		const char *name;
		bool ok;
	} t[] = {
		{ "remote.test", true }, { "remote.test.", true },
		{ "_25._tcp.mx.dane.test", true }, { "sel._domainkey.x.org", true },
		{ "4.3.2.1.zen.example", true }, { "a", true },
		{ "", false }, { ".", false }, { "a..b", false }, { ".a", false },
		{ "a.b..", false }, { "a b.test", false }, { "a\\.b", false },
		{ "caf\xc3\xa9.test", false }, { "a/b", false },
	};
	char l63[64], l64[65], n253[254], n254[255];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_expect_eq(dns_name_ok(t[i].name), t[i].ok, "%s", t[i].name);
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	cr_expect(dns_name_ok(l63));
	cr_expect(!dns_name_ok(l64));
	memset(n253, 'a', 253);
	for (size_t i = 63; i < 253; i += 64)
		n253[i] = '.';
	n253[253] = '\0';
	cr_expect(dns_name_ok(n253));
	memcpy(n254, n253, 253);
	n254[253] = 'a';
	n254[254] = '\0';
	cr_expect(!dns_name_ok(n254));
}

Test(dns_name, reverse)
{
	char out[DNS_NAME_MAX + 1];

	cr_assert_eq(dns_name_reverse("192.0.2.1", out), 0);
	cr_expect_str_eq(out, "1.2.0.192.in-addr.arpa");
	cr_assert_eq(dns_name_reverse("2001:db8::567:89ab", out), 0);
	cr_expect_str_eq(out, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
			 ".8.b.d.0.1.0.0.2.ip6.arpa");
	cr_expect_eq(dns_name_reverse("mail.example.org", out), -1);
	cr_expect_eq(dns_name_reverse("192.0.2", out), -1);
	cr_expect_eq(dns_name_reverse("", out), -1);
}

Test(dns_name, eq)
{
	cr_expect(dns_name_eq("Remote.TEST", "remote.test"));
	cr_expect(!dns_name_eq("remote.test", "remote.test2"));
}

/* RFC 7505 §3: only answers whose every MX is "." are the null MX. */
Test(dns_types, is_null_mx)
{
	static const struct {
		enum dns_status status;
		const char *hosts[3];
		bool null_mx;
	} null_rows[] = {
		{ DNS_OK, { "" }, true },
		{ DNS_OK, { "." }, true },
		{ DNS_OK, { "", "" }, true },
		{ DNS_OK, { "", "mx.example.net" }, false },
		{ DNS_OK, { "mx.example.net" }, false },
		{ DNS_NODATA, { NULL }, false },
		{ DNS_NXDOMAIN, { NULL }, false },
		{ DNS_TEMPFAIL, { NULL }, false },
	};

	for (size_t i = 0; i < sizeof(null_rows) / sizeof(null_rows[0]); i++) {
		struct dns_mx mx[3];
		struct dns_answer a = { .status = null_rows[i].status,
					.type = DNS_T_MX, .mx = mx };

		for (; a.n < 3 && null_rows[i].hosts[a.n] != NULL; a.n++) {
			mx[a.n].pref = (uint16_t)(10 * a.n);
			snprintf(mx[a.n].host, sizeof(mx[a.n].host), "%s",
				 null_rows[i].hosts[a.n]);
		}
		cr_expect_eq(dns_is_null_mx(&a), null_rows[i].null_mx, "row %zu", i);
	}
	struct dns_answer a_rec = { .status = DNS_OK, .type = DNS_T_A, .n = 1 };

	cr_expect(!dns_is_null_mx(&a_rec), "an A answer");
}
