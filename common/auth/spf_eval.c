/* common/auth/spf_eval.c: the SPF evaluation (RFC 7208 §4): its input
 * (§4.1, §4.3), the walk of check_host() over the answers so far, the
 * record of a domain (§4.4, §4.5), its terms and redirect= (§4.6, §6.1),
 * and the explanation of a fail (§6.2). */
#include "autoconf.h"

#include "common/auth/spf_eval.h"

#include "common/auth/spf_mech.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int check_host(struct spf_run *r, const char *domain);

const char *spf_result_str(enum spf_result r)
{
	static const char *const names[] = {
		"none", "neutral", "pass", "fail", "softfail", "temperror",
		"permerror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

/* The one SPF record among domain's TXT records (§4.5): SPF_K_MATCH
 * with *txt_r, or a result (none, temperror, permerror) or SPF_K_NEED. */
static int find_record(struct spf_run *r, const char *domain,
		       const char **txt_r)
{
	const struct spf_answer *a;
	size_t found = 0;
	int rc = spf_lookup(r, domain, DNS_T_TXT, &a);

	if (rc != 0)
		return rc;
	if (a->status == DNS_TEMPFAIL || a->status == DNS_BOGUS) {
		r->why = "DNS error looking up the SPF record";
		return SPF_TEMPERROR;
	}
	if (a->capped)
		return spf_limit(r, "TXT records that cannot all be read");
	for (size_t i = 0; i < a->n; i++) {
		if (spf_record_is_spf(a->str[i], strlen(a->str[i]))) {
			*txt_r = a->str[i];
			found++;
		}
	}
	if (found > 1)
		return spf_limit(r, "more than one SPF record");
	if (found == 0) {
		r->why = "no SPF record";
		return SPF_NONE;
	}
	return SPF_K_MATCH;
}

/* The record decided: its exp= is the one a fail explains with. */
static int decided(struct spf_run *r, const struct spf_record *rec,
		   const char *domain, int result)
{
	r->exp = rec->exp;
	snprintf(r->exp_domain, sizeof(r->exp_domain), "%s", domain);
	return result;
}

static int follow(struct spf_run *r, const struct spf_record *rec,
		  const char *domain)
{
	char target[SPF_NAME_LEN + 1];
	int rc;

	if (++r->terms > SPF_DNS_TERMS_MAX)
		return spf_limit(r, "more than 10 DNS lookups");
	rc = spf_target(r, rec->redirect, domain, target);
	if (rc == SPF_K_NEED)
		return rc;
	if (rc == SPF_K_BADNAME)
		return spf_limit(r, "redirect to a name that cannot exist");
	rc = check_host(r, target);
	if (rc == SPF_NONE)
		return spf_limit(r, "redirect to a domain without an SPF record");
	return rc;
}

/* redirect= (§6.1): the target's result is the record's; an error at
 * this step blames the modifier ("redirect=" is 9 octets in any case). */
static int redirect(struct spf_run *r, const struct spf_record *rec,
		    const char *domain)
{
	int rc;

	r->match.len = 0;
	rc = follow(r, rec, domain);
	if (rc >= SPF_TEMPERROR && rc <= SPF_PERMERROR && r->err_at.len == 0) {
		r->err_at.p = rec->redirect.p - 9;
		r->err_at.len = rec->redirect.len + 9;
	}
	return rc;
}

/* The terms in order, then redirect= (§4.6.2, §6.1). */
static int eval_record(struct spf_run *r, const struct spf_record *rec,
		       const char *domain)
{
	struct spf_term t;
	size_t pos = 0;

	while (spf_record_next(rec, &pos, &t)) {
		if (t.mech == SPF_MODIFIER)
			continue;
		int rc = spf_mech_eval(r, &t, domain);

		if (rc == SPF_K_NOMATCH)
			continue;
		if (rc == SPF_K_MATCH) {
			r->match = t.text;
			return decided(r, rec, domain, (int)t.qual);
		}
		if (rc != SPF_K_NEED && r->err_at.len == 0)
			r->err_at = t.text;
		return rc;
	}
	if (rec->redirect.p != NULL)
		return redirect(r, rec, domain);
	r->match.len = 0;
	return decided(r, rec, domain, SPF_NEUTRAL);
}

static int check_host(struct spf_run *r, const char *domain)
{
	struct spf_record rec;
	struct spf_span at;
	const char *txt = NULL;
	int rc = find_record(r, domain, &txt);

	if (rc != SPF_K_MATCH)
		return rc;
	if (spf_record_parse(txt, strlen(txt), &rec, &r->why, &at) < 0) {
		if (r->err_at.len == 0)
			r->err_at = at;
		return SPF_PERMERROR;
	}
	return eval_record(r, &rec, domain);
}

/* §6.2: the explanation of a fail; any trouble leaves none. */
static int explain(struct spf_run *r)
{
	struct spf *s = r->s;
	char name[SPF_NAME_LEN + 1], buf[1024];
	const struct spf_answer *a;
	struct spf_span text;
	const char *why;
	int rc;

	if (r->exp.p == NULL)
		return 0;
	rc = spf_target(r, r->exp, r->exp_domain, name);
	if (rc != 0)
		return rc == SPF_K_NEED ? rc : 0;
	rc = spf_lookup(r, name, DNS_T_TXT, &a);
	if (rc != 0)
		return rc;
	if (a->status != DNS_OK || a->n != 1)
		return 0;
	text.p = a->str[0];
	text.len = strlen(text.p);
	for (size_t i = 0; i < text.len; i++)
		if (text.p[i] < 0x20 || text.p[i] > 0x7e)
			return 0;
	if (spf_macro_check(text.p, text.len, SPF_MACRO_EXP, &why) < 0)
		return 0;
	rc = spf_expand(r, text, SPF_MACRO_EXP, r->exp_domain, buf, sizeof(buf));
	if (rc == SPF_K_NEED)
		return rc;
	if (rc >= 0 && (s->exp = strdup(buf)) == NULL)
		return -1;
	return 0;
}

static void copy_span(char *out, size_t size, struct spf_span sp)
{
	size_t n = sp.len < size ? sp.len : size - 1;

	if (n > 0)
		memcpy(out, sp.p, n);
	out[n] = '\0';
}

static void finish(struct spf *s, enum spf_result result, const char *why)
{
	s->done = true;
	s->result = result;
	s->why = why != NULL && (result == SPF_NONE || result >= SPF_TEMPERROR) ?
		 why : "";
}

/* One walk: 1 when it reached the result, 0 when it needs s->want. */
static int walk(struct spf *s)
{
	struct spf_run r = { .s = s, .check_host = check_host };
	int rc;

	if (!s->domain_ok) {
		finish(s, SPF_NONE, "not a domain SPF can check");
		return 1;
	}
	rc = check_host(&r, s->domain);
	if (rc == SPF_FAIL) {
		int e = explain(&r);

		if (e == SPF_K_NEED)
			return 0;
		if (e < 0) {
			finish(s, SPF_TEMPERROR, "out of memory");
			return 1;
		}
	}
	if (rc == SPF_K_NEED)
		return 0;
	copy_span(s->mech, sizeof(s->mech),
		  rc >= SPF_TEMPERROR ? r.err_at : r.match);
	finish(s, (enum spf_result)rc, r.why);
	return 1;
}

/* The client's address: IPv4-mapped IPv6 is IPv4 (§5). */
static int set_ip(struct spf *s, const char *ip)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
						  0xff, 0xff };
	static const char hex[] = "0123456789ABCDEF";

	if (ip == NULL)
		return -1;
	if (inet_pton(AF_INET, ip, s->ip) == 1) {
		s->family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, s->ip) == 1) {
		s->family = AF_INET6;
		if (memcmp(s->ip, mapped, 12) == 0) {
			memmove(s->ip, s->ip + 12, 4);
			s->family = AF_INET;
		}
	} else {
		return -1;
	}
	inet_ntop(s->family, s->ip, s->ip_c, sizeof(s->ip_c));
	if (s->family == AF_INET) {
		memcpy(s->ip_i, s->ip_c, sizeof(s->ip_c));
		return 0;
	}
	/* §7.3: an IPv6 <ip> is its 32 nibbles, dotted */
	for (size_t k = 0; k < 32; k++) {
		unsigned octet = s->ip[k / 2];

		s->ip_i[2 * k] = hex[k % 2 == 0 ? octet >> 4 : octet & 15];
		s->ip_i[2 * k + 1] = k < 31 ? '.' : '\0';
	}
	return 0;
}

/* §4.3: a domain SPF can check: no domain literal, labels of 1 to 63
 * octets (a final dot allowed, taken off), two labels at least. */
static bool domain_ok(char *d)
{
	size_t len = strlen(d), run = 0, labels = 0;

	if (len > 0 && d[len - 1] == '.')
		d[--len] = '\0';
	if (len == 0 || len > SPF_NAME_LEN || d[0] == '[')
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (d[i] != '.' && d[i] != '\0') {
			run++;
			continue;
		}
		if (run == 0 || run > 63)
			return false;
		labels++;
		run = 0;
	}
	return labels >= 2;
}

/* <sender> (§4.1, §4.3): postmaster@HELO for the null sender, the
 * local-part postmaster when there is none. */
static int set_sender(struct spf *s, const char *sender)
{
	const char *at;
	size_t llen;

	if (sender == NULL || *sender == '\0')
		sender = "";
	at = strrchr(sender, '@');
	if (*sender == '\0') {
		s->domain = strdup(s->helo);
		llen = 0;
	} else if (at == NULL) {
		s->domain = strdup(sender);
		llen = 0;
	} else {
		s->domain = strdup(at + 1);
		llen = (size_t)(at - sender);
	}
	s->local = llen > 0 ? strndup(sender, llen) : strdup("postmaster");
	if (s->domain == NULL || s->local == NULL)
		return -1;
	s->domain_ok = domain_ok(s->domain);
	s->sender = malloc(strlen(s->local) + strlen(s->domain) + 2);
	if (s->sender == NULL)
		return -1;
	sprintf(s->sender, "%s@%s", s->local, s->domain);
	return 0;
}

struct spf *spf_new(const struct spf_input *in)
{
	struct spf *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (set_ip(s, in->ip) < 0) {
		free(s);
		errno = EINVAL;
		return NULL;
	}
	s->helo = strdup(in->helo != NULL ? in->helo : "");
	s->receiver = strdup(in->receiver != NULL ? in->receiver : "unknown");
	snprintf(s->t, sizeof(s->t), "%lld", (long long)in->now);
	if (s->helo == NULL || s->receiver == NULL ||
	    set_sender(s, in->sender) < 0) {
		spf_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

int spf_step(struct spf *s, struct spf_query *q_r)
{
	if (!s->done && walk(s) == 0) {
		q_r->name = s->want;
		q_r->type = s->want_type;
		return 0;
	}
	return 1;
}

void spf_answer(struct spf *s, const struct dns_answer *a)
{
	if (s->done)
		return;
	if (s->answers.n >= SPF_ANSWERS_MAX)
		finish(s, SPF_PERMERROR, "too many DNS lookups");
	else if (spf_answers_add(&s->answers, s->want, s->want_type, a) < 0)
		finish(s, SPF_TEMPERROR, "out of memory");
}

void spf_give_up(struct spf *s)
{
	if (!s->done)
		finish(s, SPF_TEMPERROR, "took too long");
}

enum spf_result spf_result(const struct spf *s)
{
	return s->result;
}

const char *spf_explanation(const struct spf *s)
{
	return s->result == SPF_FAIL ? s->exp : NULL;
}

const char *spf_mechanism(const struct spf *s)
{
	return s->mech;
}

const char *spf_why(const struct spf *s)
{
	return s->why != NULL ? s->why : "";
}

const char *spf_domain(const struct spf *s)
{
	return s->domain;
}

void spf_free(struct spf *s)
{
	if (s == NULL)
		return;
	spf_answers_free(&s->answers);
	free(s->sender);
	free(s->local);
	free(s->domain);
	free(s->helo);
	free(s->receiver);
	free(s->exp);
	free(s);
}
