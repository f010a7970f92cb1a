/* tests/helpers/spfzone.c: the text zone of the SPF tests. */
#include "autoconf.h"

#include "tests/helpers/spfzone.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/dns/dns_name.h"
#include "common/dns/dns_parse.h"

#define T_CNAME 5
#define T_ANY 0 /* a TIMEOUT line for every type */

struct rr {
	char *name;
	int type;
	bool timeout;
	char *data;       /* TXT (len octets), PTR and CNAME target, MX host */
	size_t len;
	unsigned pref;
	struct dns_addr addr;
};

struct spfzone {
	struct rr *rr;
	size_t n;
};

static int quoted(const char **p, char **o, size_t *len)
{
	const char *s = *p + 1;

	for (; *s != '"'; s++) {
		if (*s == '\0')
			return -1;
		if (*s == '\\') {
			s++;
			if (s[0] >= '0' && s[0] <= '9') {
				if (!(s[1] >= '0' && s[1] <= '9' && s[2] >= '0' &&
				      s[2] <= '9'))
					return -1;
				*(*o)++ = (char)((s[0] - '0') * 100 +
						 (s[1] - '0') * 10 + (s[2] - '0'));
				(*len)++;
				s += 2;
				continue;
			}
			if (*s == '\0')
				return -1;
		}
		*(*o)++ = *s;
		(*len)++;
	}
	*p = s + 1;
	return 0;
}

int spfzone_fields(const char *line, char *buf, char **field, size_t *len,
		   size_t max)
{
	const char *p = line;
	char *o = buf;
	size_t n = 0;

	while (n < max) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '\0')
			break;
		field[n] = o;
		len[n] = 0;
		if (*p == '"') {
			if (quoted(&p, &o, &len[n]) < 0)
				return -1;
		} else {
			while (*p != '\0' && *p != ' ' && *p != '\t' &&
			       *p != '\n' && *p != '\r') {
				*o++ = *p++;
				len[n]++;
			}
		}
		*o++ = '\0';
		n++;
	}
	return (int)n;
}

struct spfzone *spfzone_new(void)
{
	return calloc(1, sizeof(struct spfzone));
}

static int type_of(const char *s)
{
	static const struct {
		const char *name;
		int type;
	} t[] = {
		{ "A", DNS_T_A }, { "AAAA", DNS_T_AAAA }, { "MX", DNS_T_MX },
		{ "PTR", DNS_T_PTR }, { "TXT", DNS_T_TXT }, { "CNAME", T_CNAME },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i].name) == 0)
			return t[i].type;
	return -1;
}

/* The record's data from fields f[2..n). */
static int rr_data(struct rr *r, char **f, size_t *len, int n,
		   const char **why_r)
{
	size_t total = 0;

	*why_r = "bad record data";
	if (r->type == DNS_T_TXT) {
		for (int i = 2; i < n; i++)
			total += len[i];
		r->data = malloc(total + 1);
		if (r->data == NULL)
			return -1;
		for (int i = 2; i < n; i++) {
			memcpy(r->data + r->len, f[i], len[i]);
			r->len += len[i];
		}
		r->data[r->len] = '\0';
		return 0;
	}
	if (r->type == DNS_T_MX) {
		if (n != 4)
			return -1;
		r->pref = (unsigned)atoi(f[2]);
		f[2] = f[3];
	} else if (n != 3) {
		return -1;
	}
	if (r->type == DNS_T_A || r->type == DNS_T_AAAA) {
		r->addr.family = r->type == DNS_T_A ? AF_INET : AF_INET6;
		return inet_pton(r->addr.family, f[2], r->addr.addr) == 1 ? 0 : -1;
	}
	size_t l = strlen(f[2]);

	if (l > 0 && f[2][l - 1] == '.')
		f[2][--l] = '\0';
	r->data = strdup(f[2]);
	return r->data != NULL ? 0 : -1;
}

int spfzone_add(struct spfzone *z, const char *line, const char **why_r)
{
	char *buf = malloc(strlen(line) + 1), *f[64];
	size_t len[64];
	int n = buf != NULL ? spfzone_fields(line, buf, f, len, 64) : -1;
	struct rr r = { 0 };
	struct rr *v;

	*why_r = "bad line";
	if (n == 0 || (n > 0 && f[0][0] == '#')) {
		free(buf);
		return 0;
	}
	if (n < 2 || (v = realloc(z->rr, (z->n + 1) * sizeof(*v))) == NULL) {
		free(buf);
		return -1;
	}
	z->rr = v;
	size_t l = strlen(f[0]);

	if (l > 0 && f[0][l - 1] == '.')
		f[0][l - 1] = '\0';
	r.name = strdup(f[0]);
	if (strcasecmp(f[1], "TIMEOUT") == 0) {
		r.timeout = true;
		r.type = n == 2 ? T_ANY : n == 3 ? type_of(f[2]) : -1;
	} else if ((r.type = type_of(f[1])) < 0) {
		*why_r = "unknown record type";
	} else if (rr_data(&r, f, len, n, why_r) < 0) {
		r.type = -1;
	}
	free(buf);
	if (r.type < 0 || r.name == NULL) {
		free(r.name);
		free(r.data);
		return -1;
	}
	z->rr[z->n++] = r;
	return 0;
}

static bool same_name(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* The name's records of type into a; 1 when the name has a line at
 * all. A CNAME's target is in *cname_r. */
static bool collect(const struct spfzone *z, const char *name, int type,
		    struct dns_answer *a, const char **cname_r)
{
	bool seen = false;

	for (size_t i = 0; i < z->n; i++) {
		const struct rr *r = &z->rr[i];

		if (!same_name(r->name, name))
			continue;
		seen = true;
		if (r->timeout && (r->type == type || (r->type == T_ANY && a->n == 0))) {
			a->status = DNS_TEMPFAIL;
			a->why = "timeout";
			return true;
		}
		if (r->type == T_CNAME && *cname_r == NULL)
			*cname_r = r->data;
		if (r->type != type || r->timeout || a->status == DNS_TEMPFAIL)
			continue;
		if (type == DNS_T_TXT && memchr(r->data, '\0', r->len) != NULL) {
			a->capped = true;
			continue;
		}
		switch (type) {
		case DNS_T_A:
		case DNS_T_AAAA:
			a->addr[a->n++] = r->addr;
			break;
		case DNS_T_MX: {
			size_t k = a->n++;

			while (k > 0 && a->mx[k - 1].pref > r->pref) {
				a->mx[k] = a->mx[k - 1];
				k--;
			}
			a->mx[k].pref = (uint16_t)r->pref;
			snprintf(a->mx[k].host, sizeof(a->mx[k].host), "%s", r->data);
			break;
		}
		case DNS_T_TXT:
			a->txt[a->n++] = strdup(r->data);
			break;
		default:
			a->ptr[a->n++] = strdup(r->data);
			break;
		}
	}
	return seen;
}

void spfzone_answer(const struct spfzone *z, const char *name,
		    enum dns_type type, struct dns_answer *a)
{
	char cur[DNS_NAME_MAX + 1];
	size_t l;

	memset(a, 0, sizeof(*a));
	a->type = type;
	if (type == DNS_T_PTR) {
		if (dns_name_reverse(name, cur) < 0) {
			a->status = DNS_NXDOMAIN;
			return;
		}
	} else {
		snprintf(cur, sizeof(cur), "%s", name);
	}
	l = strlen(cur);
	if (l > 0 && cur[l - 1] == '.')
		cur[l - 1] = '\0';
	snprintf(a->qname, sizeof(a->qname), "%s", cur);
	a->addr = calloc(z->n + 1, sizeof(*a->addr));
	a->mx = calloc(z->n + 1, sizeof(*a->mx));
	a->txt = calloc(z->n + 1, sizeof(*a->txt));
	a->ptr = calloc(z->n + 1, sizeof(*a->ptr));
	for (int hops = 0;; hops++) {
		const char *cname = NULL;

		if (!collect(z, cur, (int)type, a, &cname)) {
			a->status = DNS_NXDOMAIN;
			break;
		}
		if (a->status == DNS_TEMPFAIL || a->n > 0 || cname == NULL) {
			if (a->status != DNS_TEMPFAIL)
				a->status = a->n > 0 ? DNS_OK : DNS_NODATA;
			break;
		}
		if (hops == DNS_CNAME_MAX) {
			a->status = DNS_TEMPFAIL;
			a->why = "CNAME chain too long";
			break;
		}
		snprintf(cur, sizeof(cur), "%s", cname);
	}
	snprintf(a->canon, sizeof(a->canon), "%s", cur);
	/* dns_answer_free frees the strings of the array of the type only */
	if (type != DNS_T_TXT) {
		free(a->txt);
		a->txt = NULL;
	}
	if (type != DNS_T_PTR) {
		free(a->ptr);
		a->ptr = NULL;
	}
	if (a->status == DNS_TEMPFAIL) {
		for (size_t i = 0; i < a->n; i++) {
			if (a->txt != NULL)
				free(a->txt[i]);
			if (a->ptr != NULL)
				free(a->ptr[i]);
		}
		a->n = 0;
	}
}

void spfzone_free(struct spfzone *z)
{
	if (z == NULL)
		return;
	for (size_t i = 0; i < z->n; i++) {
		free(z->rr[i].name);
		free(z->rr[i].data);
	}
	free(z->rr);
	free(z);
}
