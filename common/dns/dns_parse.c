/* common/dns/dns_parse.c: the records of a DNS answer message, read with
 * every bound checked (see dns_parse.h). The message is walked once to
 * check it whole and note where each record of the answer and authority
 * sections lies; the CNAME chain and the records asked for are then read
 * from those notes. */
#include "autoconf.h"

#include "common/dns/dns_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dns/dns_name.h"

enum {
	T_CNAME = 5,
	T_SOA = 6,
	C_IN = 1,
	HEADER_LEN = 12,
	RR_FIXED = 10,            /* type, class, TTL, RDLENGTH */
	RR_MIN = 1 + RR_FIXED,    /* the root name and the fixed part */
};

/* Where one resource record lies in the message. */
struct rr {
	size_t owner;             /* offset of its name */
	uint16_t type, cls;
	uint32_t ttl;
	size_t rd, rdlen;         /* offset and length of its RDATA */
};

struct msg {
	const uint8_t *p;
	size_t len, pos;
	struct rr *an, *ns;       /* answer and authority sections */
	size_t n_an, n_ns;
	const char *why;          /* the first fault found */
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int fault(struct msg *m, const char *why)
{
	if (m->why == NULL)
		m->why = why;
	return -1;
}

/* A name inside rr's RDATA at *off, which must end inside it. */
static int rd_name(struct msg *m, const struct rr *rr, size_t *off, char *out)
{
	const char *why;

	if (dns_name_read(m->p, m->len, off, rr->rd + rr->rdlen, out, &why) < 0)
		return fault(m, why);
	return 0;
}

/* The character-strings of a TXT RDATA fill it exactly (RFC 1035 §3.3). */
static int check_txt(struct msg *m, const struct rr *rr)
{
	size_t o = rr->rd, end = rr->rd + rr->rdlen;

	if (rr->rdlen == 0)
		return fault(m, "empty TXT record");
	while (o < end) {
		o += 1 + (size_t)m->p[o];
		if (o > end)
			return fault(m, "TXT string past the end of its record");
	}
	return 0;
}

/* The RDATA of the types read here is well formed (RFC 1035 §3.3, RFC 3596,
 * RFC 6698 §2.1, RFC 2782); other types are not looked into. */
static int check_rdata(struct msg *m, const struct rr *rr)
{
	char name[DNS_NAME_MAX + 1];
	size_t o = rr->rd, end = rr->rd + rr->rdlen;

	if (rr->cls != C_IN)
		return 0;
	switch (rr->type) {
	case DNS_T_A:
		return rr->rdlen == 4 ? 0 : fault(m, "A record not of 4 octets");
	case DNS_T_AAAA:
		return rr->rdlen == 16 ? 0 : fault(m, "AAAA record not of 16 octets");
	case DNS_T_TLSA:
		return rr->rdlen >= 3 ? 0 : fault(m, "TLSA record under 3 octets");
	case DNS_T_TXT:
		return check_txt(m, rr);
	case DNS_T_MX:
		if (rr->rdlen < 3)
			return fault(m, "MX record too short");
		o += 2;
		break;
	case DNS_T_SRV:
		if (rr->rdlen < 7)
			return fault(m, "SRV record too short");
		o += 6;
		break;
	case T_CNAME:
	case DNS_T_PTR:
		break;
	case T_SOA:
		if (rd_name(m, rr, &o, name) < 0)
			return -1;
		if (rd_name(m, rr, &o, name) < 0)
			return -1;
		return end - o == 20 ? 0 : fault(m, "SOA record of the wrong length");
	default:
		return 0;
	}
	if (rd_name(m, rr, &o, name) < 0)
		return -1;
	return o == end ? 0 : fault(m, "octets after the name in a record");
}

/* Read count records from m->pos into a fresh array. */
static int read_rrs(struct msg *m, size_t count, struct rr **rrs_r)
{
	char name[DNS_NAME_MAX + 1];
	struct rr *rrs;
	const char *why;

	*rrs_r = NULL;
	if (count == 0)
		return 0;
	if (count > (m->len - m->pos) / RR_MIN)
		return fault(m, "more records than the message holds");
	rrs = calloc(count, sizeof(*rrs));
	if (rrs == NULL)
		return fault(m, "out of memory");
	*rrs_r = rrs;
	for (size_t i = 0; i < count; i++) {
		struct rr *rr = &rrs[i];
		const uint8_t *f;

		rr->owner = m->pos;
		if (dns_name_read(m->p, m->len, &m->pos, m->len, name, &why) < 0)
			return fault(m, why);
		if (m->len - m->pos < RR_FIXED)
			return fault(m, "record cut short");
		f = m->p + m->pos;
		rr->type = get16(f);
		rr->cls = get16(f + 2);
		rr->ttl = get32(f + 4);
		if (rr->ttl > INT32_MAX)   /* RFC 2181 §8 */
			rr->ttl = 0;
		rr->rdlen = get16(f + 8);
		rr->rd = m->pos + RR_FIXED;
		if (rr->rdlen > m->len - rr->rd)
			return fault(m, "record data past the end of the message");
		m->pos = rr->rd + rr->rdlen;
		if (check_rdata(m, rr) < 0)
			return -1;
	}
	return 0;
}

/* The header and the question: fills a->qname; returns the RCODE, or -1. */
static int read_head(struct msg *m, enum dns_type type, struct dns_answer *a,
		     size_t *n_an, size_t *n_ns)
{
	const char *why;
	uint16_t flags;

	if (m->len < HEADER_LEN)
		return fault(m, "message shorter than its header");
	flags = get16(m->p + 2);
	if (!(flags & 0x8000))
		return fault(m, "not a response");
	if (flags & 0x0200)
		return fault(m, "truncated answer (TC)");
	if (get16(m->p + 4) != 1)
		return fault(m, "not one question");
	*n_an = get16(m->p + 6);
	*n_ns = get16(m->p + 8);
	m->pos = HEADER_LEN;
	if (dns_name_read(m->p, m->len, &m->pos, m->len, a->qname, &why) < 0)
		return fault(m, why);
	if (m->len - m->pos < 4)
		return fault(m, "question cut short");
	if (get16(m->p + m->pos) != type || get16(m->p + m->pos + 2) != C_IN)
		return fault(m, "answer to another question");
	m->pos += 4;
	return flags & 0x000f;
}

const char *dns_rcode_why(unsigned rcode)
{
	switch (rcode) {
	case 1: return "format error (FORMERR)";
	case 2: return "server failure (SERVFAIL)";
	case 4: return "not implemented (NOTIMP)";
	case 5: return "query refused (REFUSED)";
	default: return "unknown response code";
	}
}

static bool owner_is(const struct msg *m, const struct rr *rr, const char *name)
{
	char owner[DNS_NAME_MAX + 1];
	size_t off = rr->owner;
	const char *why;

	return dns_name_read(m->p, m->len, &off, m->len, owner, &why) == 0 &&
	       dns_name_eq(owner, name);
}

static bool rr_is(const struct msg *m, const struct rr *rr, unsigned type,
		  const char *owner)
{
	return rr->type == type && rr->cls == C_IN && owner_is(m, rr, owner);
}

static void min_ttl(struct dns_answer *a, bool *first, uint32_t ttl)
{
	if (*first || ttl < a->ttl)
		a->ttl = ttl;
	*first = false;
}

/* Follow the answer section's CNAMEs from qname into a->canon. */
static int follow_cnames(struct msg *m, struct dns_answer *a, bool *first)
{
	snprintf(a->canon, sizeof(a->canon), "%s", a->qname);
	for (unsigned hops = 0;; hops++) {
		const struct rr *cname = NULL;
		size_t off;

		for (size_t i = 0; i < m->n_an && cname == NULL; i++)
			if (rr_is(m, &m->an[i], T_CNAME, a->canon))
				cname = &m->an[i];
		if (cname == NULL)
			return 0;
		if (hops == DNS_CNAME_MAX)
			return fault(m, "CNAME chain too long");
		off = cname->rd;
		if (rd_name(m, cname, &off, a->canon) < 0)
			return -1;
		min_ttl(a, first, cname->ttl);
	}
}

/* The negative TTL of the authority section's SOA: min(TTL, MINIMUM). */
static void negative_ttl(const struct msg *m, struct dns_answer *a, bool *first)
{
	for (size_t i = 0; i < m->n_ns; i++) {
		const struct rr *rr = &m->ns[i];
		uint32_t minimum;

		if (rr->type != T_SOA || rr->cls != C_IN)
			continue;
		minimum = get32(m->p + rr->rd + rr->rdlen - 4);
		min_ttl(a, first, rr->ttl < minimum ? rr->ttl : minimum);
		return;
	}
	if (*first)
		a->ttl = 0;
}

static int fill_mx(struct msg *m, struct dns_answer *a,
		   const struct rr **rrs, size_t n)
{
	a->mx = calloc(n, sizeof(*a->mx));
	if (a->mx == NULL)
		return fault(m, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t off = rrs[i]->rd + 2;

		a->mx[i].pref = get16(m->p + rrs[i]->rd);
		if (rd_name(m, rrs[i], &off, a->mx[i].host) < 0)
			return -1;
		a->n++;
	}
	return 0;
}

static int fill_addr(struct msg *m, struct dns_answer *a,
		     const struct rr **rrs, size_t n)
{
	a->addr = calloc(n, sizeof(*a->addr));
	if (a->addr == NULL)
		return fault(m, "out of memory");
	for (size_t i = 0; i < n; i++) {
		a->addr[i].family = a->type == DNS_T_A ? AF_INET : AF_INET6;
		memcpy(a->addr[i].addr, m->p + rrs[i]->rd, rrs[i]->rdlen);
		a->n++;
	}
	return 0;
}

static int fill_tlsa(struct msg *m, struct dns_answer *a,
		     const struct rr **rrs, size_t n)
{
	a->tlsa = calloc(n, sizeof(*a->tlsa));
	if (a->tlsa == NULL)
		return fault(m, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *rd = m->p + rrs[i]->rd;
		struct dns_tlsa *t = &a->tlsa[i];
		uint8_t *data;

		t->usage = rd[0];
		t->selector = rd[1];
		t->mtype = rd[2];
		t->len = rrs[i]->rdlen - 3;
		data = malloc(t->len > 0 ? t->len : 1);
		if (data == NULL)
			return fault(m, "out of memory");
		memcpy(data, rd + 3, t->len);
		t->data = data;
		a->n++;
	}
	return 0;
}

/* One TXT record's strings joined, or NULL (with *drop when it is too
 * long or holds a NUL octet: left out, and the answer says capped). */
static char *txt_join(const struct msg *m, const struct rr *rr, bool *drop)
{
	size_t o = rr->rd, end = rr->rd + rr->rdlen, k = 0;
	bool nul = false;
	char *s;

	for (size_t x = o; x < end; x += 1 + (size_t)m->p[x]) {
		k += m->p[x];
		nul = nul || memchr(m->p + x + 1, '\0', m->p[x]) != NULL;
	}
	*drop = k > DNS_TXT_MAX || nul;
	if (*drop)
		return NULL;
	s = malloc(k + 1);
	if (s == NULL)
		return NULL;
	k = 0;
	for (; o < end; o += 1 + (size_t)m->p[o]) {
		memcpy(s + k, m->p + o + 1, m->p[o]);
		k += m->p[o];
	}
	s[k] = '\0';
	return s;
}

static int fill_txt(struct msg *m, struct dns_answer *a,
		    const struct rr **rrs, size_t n)
{
	a->txt = calloc(n, sizeof(*a->txt));
	if (a->txt == NULL)
		return fault(m, "out of memory");
	for (size_t i = 0; i < n; i++) {
		bool drop;
		char *s = txt_join(m, rrs[i], &drop);

		if (drop) {
			a->capped = true;
			continue;
		}
		if (s == NULL)
			return fault(m, "out of memory");
		a->txt[a->n++] = s;
	}
	return 0;
}

static int fill_ptr(struct msg *m, struct dns_answer *a,
		    const struct rr **rrs, size_t n)
{
	char name[DNS_NAME_MAX + 1];

	a->ptr = calloc(n, sizeof(*a->ptr));
	if (a->ptr == NULL)
		return fault(m, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t off = rrs[i]->rd;

		if (rd_name(m, rrs[i], &off, name) < 0)
			return -1;
		a->ptr[i] = strdup(name);
		if (a->ptr[i] == NULL)
			return fault(m, "out of memory");
		a->n++;
	}
	return 0;
}

/* SRV: priority, weight, port and the target ("." as ""). */
static int fill_srv(struct msg *m, struct dns_answer *a,
		    const struct rr **rrs, size_t n)
{
	a->srv = calloc(n, sizeof(*a->srv));
	if (a->srv == NULL)
		return fault(m, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *rd = m->p + rrs[i]->rd;
		struct dns_srv *s = &a->srv[i];
		size_t off = rrs[i]->rd + 6;

		s->prio = get16(rd);
		s->weight = get16(rd + 2);
		s->port = get16(rd + 4);
		if (rd_name(m, rrs[i], &off, s->target) < 0)
			return -1;
		a->n++;
	}
	return 0;
}

/* MX records by preference; equal ones keep their order in the message. */
struct mx_key {
	uint16_t pref;
	const struct rr *rr;
};

static int mx_cmp(const void *x, const void *y)
{
	const struct mx_key *a = x, *b = y;

	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	return a->rr < b->rr ? -1 : a->rr > b->rr;
}

static int sort_mx(struct msg *m, const struct rr **rrs, size_t n)
{
	struct mx_key *k = calloc(n, sizeof(*k));

	if (k == NULL)
		return fault(m, "out of memory");
	for (size_t i = 0; i < n; i++) {
		k[i].pref = get16(m->p + rrs[i]->rd);
		k[i].rr = rrs[i];
	}
	qsort(k, n, sizeof(*k), mx_cmp);
	for (size_t i = 0; i < n; i++)
		rrs[i] = k[i].rr;
	free(k);
	return 0;
}

/* The records of a->type owned by a->canon into a's array. */
static int collect(struct msg *m, struct dns_answer *a, bool *first)
{
	const struct rr **rrs;
	size_t n = 0;
	int rc;

	if (m->n_an == 0)
		return 0;
	rrs = calloc(m->n_an, sizeof(*rrs));
	if (rrs == NULL)
		return fault(m, "out of memory");
	for (size_t i = 0; i < m->n_an; i++)
		if (rr_is(m, &m->an[i], a->type, a->canon)) {
			rrs[n++] = &m->an[i];
			min_ttl(a, first, m->an[i].ttl);
		}
	rc = n > 0 && a->type == DNS_T_MX ? sort_mx(m, rrs, n) : 0;
	if (n > DNS_MAX_RECORDS) {
		n = DNS_MAX_RECORDS;
		a->capped = true;
	}
	if (rc == 0 && n > 0) {
		switch (a->type) {
		case DNS_T_MX: rc = fill_mx(m, a, rrs, n); break;
		case DNS_T_A:
		case DNS_T_AAAA: rc = fill_addr(m, a, rrs, n); break;
		case DNS_T_TLSA: rc = fill_tlsa(m, a, rrs, n); break;
		case DNS_T_TXT: rc = fill_txt(m, a, rrs, n); break;
		case DNS_T_PTR: rc = fill_ptr(m, a, rrs, n); break;
		case DNS_T_SRV: rc = fill_srv(m, a, rrs, n); break;
		}
	}
	free(rrs);
	return rc;
}

void dns_answer_free(struct dns_answer *a)
{
	for (size_t i = 0; a->tlsa != NULL && i < a->n; i++)
		free((void *)a->tlsa[i].data);
	for (size_t i = 0; a->txt != NULL && i < a->n; i++)
		free(a->txt[i]);
	for (size_t i = 0; a->ptr != NULL && i < a->n; i++)
		free(a->ptr[i]);
	free(a->mx);
	free(a->addr);
	free(a->tlsa);
	free(a->txt);
	free(a->ptr);
	free(a->srv);
	a->mx = NULL;
	a->addr = NULL;
	a->tlsa = NULL;
	a->txt = NULL;
	a->ptr = NULL;
	a->srv = NULL;
	a->n = 0;
}

static void answer_fail(struct dns_answer *a, const char *why)
{
	dns_answer_free(a);
	a->status = DNS_TEMPFAIL;
	a->why = why;
	a->capped = false;
	a->ttl = 0;
}

void dns_parse(const uint8_t *msg, size_t len, enum dns_type type,
	       struct dns_answer *a)
{
	struct msg m = { .p = msg, .len = len };
	bool first = true;
	size_t n_an = 0, n_ns = 0;
	int rcode;

	memset(a, 0, sizeof(*a));
	a->type = type;
	a->security = DNS_INSECURE;
	rcode = read_head(&m, type, a, &n_an, &n_ns);
	if (rcode > 0 && rcode != 3)
		m.why = dns_rcode_why((unsigned)rcode);
	if (m.why == NULL && read_rrs(&m, n_an, &m.an) == 0)
		m.n_an = n_an;
	if (m.why == NULL && read_rrs(&m, n_ns, &m.ns) == 0)
		m.n_ns = n_ns;
	if (m.why == NULL && follow_cnames(&m, a, &first) == 0) {
		if (rcode == 3) {
			a->status = DNS_NXDOMAIN;
			negative_ttl(&m, a, &first);
		} else if (collect(&m, a, &first) == 0 && a->n == 0) {
			a->status = DNS_NODATA;
			negative_ttl(&m, a, &first);
		}
	}
	free(m.an);
	free(m.ns);
	if (m.why != NULL)
		answer_fail(a, m.why);
}
