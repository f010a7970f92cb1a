/* common/auth/spf_answers.c: the answers of one SPF evaluation. */
#include "autoconf.h"

#include "common/auth/spf_answers.h"

#include <stdlib.h>
#include <string.h>

#include "common/dns/dns_name.h"

const struct spf_answer *spf_answers_find(const struct spf_answers *as,
					  const char *name,
					  enum dns_type type)
{
	for (size_t i = 0; i < as->n; i++)
		if (as->v[i].type == type && dns_name_eq(as->v[i].name, name))
			return &as->v[i];
	return NULL;
}

static void answer_free(struct spf_answer *a)
{
	for (size_t i = 0; a->str != NULL && i < a->n; i++)
		free(a->str[i]);
	free(a->str);
	free(a->addr);
	free(a->name);
}

/* The strings of a's records of type: TXT data, PTR names, MX hosts. */
static int copy_strings(struct spf_answer *c, const struct dns_answer *a)
{
	c->str = calloc(a->n, sizeof(*c->str));
	if (c->str == NULL)
		return -1;
	for (size_t i = 0; i < a->n; i++) {
		const char *s = c->type == DNS_T_TXT ? a->txt[i] :
				c->type == DNS_T_PTR ? a->ptr[i] : a->mx[i].host;

		c->str[i] = strdup(s);
		if (c->str[i] == NULL)
			return -1;
		c->n = i + 1;
	}
	return 0;
}

static int copy_records(struct spf_answer *c, const struct dns_answer *a)
{
	bool have;

	switch (c->type) {
	case DNS_T_TXT: have = a->txt != NULL; break;
	case DNS_T_PTR: have = a->ptr != NULL; break;
	case DNS_T_MX: have = a->mx != NULL; break;
	case DNS_T_A:
	case DNS_T_AAAA: have = a->addr != NULL; break;
	default: have = false; break;
	}
	if (a->status != DNS_OK || a->type != c->type || !have || a->n == 0)
		return 0;
	if (c->type != DNS_T_A && c->type != DNS_T_AAAA)
		return copy_strings(c, a);
	c->addr = malloc(a->n * sizeof(*c->addr));
	if (c->addr == NULL)
		return -1;
	memcpy(c->addr, a->addr, a->n * sizeof(*c->addr));
	c->n = a->n;
	return 0;
}

int spf_answers_add(struct spf_answers *as, const char *name,
		    enum dns_type type, const struct dns_answer *a)
{
	struct spf_answer c = { .type = type, .status = a->status,
				.capped = a->capped };

	if (as->n == as->cap) {
		size_t cap = as->cap ? as->cap * 2 : 16;
		struct spf_answer *v = realloc(as->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		as->v = v;
		as->cap = cap;
	}
	c.name = strdup(name);
	if (c.name == NULL || copy_records(&c, a) < 0) {
		answer_free(&c);
		return -1;
	}
	if (c.status == DNS_OK && c.n == 0)
		c.status = DNS_NODATA;
	as->v[as->n++] = c;
	return 0;
}

void spf_answers_free(struct spf_answers *as)
{
	for (size_t i = 0; i < as->n; i++)
		answer_free(&as->v[i]);
	free(as->v);
	as->v = NULL;
	as->n = as->cap = 0;
}
