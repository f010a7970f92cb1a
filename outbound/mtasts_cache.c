/* outbound/mtasts_cache.c: the cache rules of an MTA-STS policy and its
 * file (outbound/mtasts_cache.h). */
#include "autoconf.h"

#include "outbound/mtasts_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MTASTS_MAGIC "kantorpos-mta-sts 1 "

void mtasts_entry_take(struct mtasts_entry *e, const struct mtasts_policy *p,
		       const char *id, time_t fetched)
{
	e->have = true;
	e->pol = *p;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->fetched = fetched;
	e->expires = fetched + (time_t)p->max_age;
}

bool mtasts_entry_valid(const struct mtasts_entry *e, time_t now)
{
	return e->have && now < e->expires;
}

const struct mtasts_policy *mtasts_entry_current(const struct mtasts_entry *e,
						 time_t now)
{
	return mtasts_entry_valid(e, now) && e->pol.mode != MTASTS_NONE
		       ? &e->pol : NULL;
}

bool mtasts_entry_wants_fetch(const struct mtasts_entry *e, const char *id,
			      time_t now)
{
	time_t margin = (time_t)e->pol.max_age / 10;

	if (margin > MTASTS_REFRESH_MAX)
		margin = MTASTS_REFRESH_MAX;
	return !mtasts_entry_valid(e, now) || strcmp(id, e->id) != 0 ||
	       e->expires - now <= margin;
}

char *mtasts_entry_format(const struct mtasts_entry *e, const char *body,
			  size_t len, size_t *len_r)
{
	char *data;
	int n = asprintf(&data, MTASTS_MAGIC "%s %lld\n%.*s", e->id,
			 (long long)e->fetched, (int)len, body);

	if (n < 0)
		return NULL;
	*len_r = (size_t)n;
	return data;
}

int mtasts_entry_parse(const char *data, size_t len, struct mtasts_entry *e)
{
	const char *nl = memchr(data, '\n', len), *why;
	struct mtasts_policy p;
	char id[MTASTS_ID_MAX + 1];
	long long fetched;

	if (len < strlen(MTASTS_MAGIC) ||
	    strncmp(data, MTASTS_MAGIC, strlen(MTASTS_MAGIC)) != 0 ||
	    nl == NULL ||
	    sscanf(data + strlen(MTASTS_MAGIC), "%32s %lld", id, &fetched) != 2 ||
	    mtasts_policy_parse(nl + 1, len - (size_t)(nl + 1 - data), &p,
				&why) != 0)
		return -1;
	mtasts_entry_take(e, &p, id, (time_t)fetched);
	return 0;
}
