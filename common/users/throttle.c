/* common/users/throttle.c: failed-login counts per client address: a chained hash
 * table for lookup plus a least-recently-used list for bounded memory. */
#include "autoconf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hmap.h"
#include "common/users/throttle.h"

struct entry {
	char key[THROTTLE_KEY_MAX + 1];
	struct entry *hnext;            /* bucket chain */
	struct entry *older, *newer;    /* LRU list */
	double first;                   /* time of the first counted failure */
	unsigned long long failures;    /* in the current window */
};

struct throttle {
	double base_delay, max_delay, window;
	unsigned long long limit;
	size_t max_entries, count, nbuckets; /* nbuckets: a power of two */
	struct entry **buckets;
	struct entry *newest, *oldest;
};

static uint32_t key_hash(const char *key);
static struct entry **find_slot(struct throttle *t, const char *key);
static void lru_unlink(struct throttle *t, struct entry *e);
static void lru_push(struct throttle *t, struct entry *e);
static void entry_remove(struct throttle *t, struct entry *e);
static void entry_expire(const struct throttle *t, struct entry *e,
			 double now);

struct throttle *throttle_new(double base_delay, double max_delay,
			      unsigned long long limit, double window,
			      size_t max_entries)
{
	struct throttle *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->max_entries = max_entries == 0 ? THROTTLE_MAX_ENTRIES : max_entries;
	/* About two entries per bucket when full. */
	t->nbuckets = 16;
	while (t->nbuckets * 2 < t->max_entries && t->nbuckets < (1u << 20))
		t->nbuckets *= 2;
	t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
	if (t->buckets == NULL) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	throttle_configure(t, base_delay, max_delay, limit, window);
	return t;
}

void throttle_configure(struct throttle *t, double base_delay,
			double max_delay, unsigned long long limit,
			double window)
{
	t->base_delay = base_delay > 0 ? base_delay : 0;
	t->max_delay = max_delay > 0 ? max_delay : 0;
	t->limit = limit > 0 ? limit : 1;
	t->window = window > 0 ? window : 1;
}

void throttle_free(struct throttle *t)
{
	struct entry *e, *next;

	if (t == NULL)
		return;
	for (e = t->newest; e != NULL; e = next) {
		next = e->older;
		free(e);
	}
	free(t->buckets);
	free(t);
}

bool throttle_allowed(struct throttle *t, const char *addr, double now)
{
	struct entry *e = *find_slot(t, addr);

	if (e == NULL)
		return true;
	entry_expire(t, e, now);
	return e->failures < t->limit;
}

double throttle_fail(struct throttle *t, const char *addr, double now,
		     bool *limited_r)
{
	struct entry **slot = find_slot(t, addr);
	struct entry *e = *slot;
	unsigned long long shift;
	double delay;

	if (limited_r != NULL)
		*limited_r = false;
	if (e == NULL) {
		if (t->count >= t->max_entries) {
			entry_remove(t, t->oldest);
			/* The removal may have unlinked the slot's chain. */
			slot = find_slot(t, addr);
		}
		e = calloc(1, sizeof *e);
		if (e == NULL) {
			/* Without memory the address is not remembered; it
			 * still gets the first delay. */
			return t->base_delay < t->max_delay ? t->base_delay
							    : t->max_delay;
		}
		strncpy(e->key, addr, THROTTLE_KEY_MAX);
		*slot = e;
		t->count++;
	} else {
		lru_unlink(t, e);
		entry_expire(t, e, now);
	}
	lru_push(t, e);
	if (e->failures == 0)
		e->first = now;
	if (e->failures < ~0ULL)
		e->failures++;
	if (limited_r != NULL && e->failures == t->limit)
		*limited_r = true;
	/* Doubling stops at the cap, so no overflow and no libm. */
	delay = t->base_delay;
	for (shift = e->failures - 1; shift > 0 && delay < t->max_delay; shift--)
		delay *= 2;
	return delay < t->max_delay ? delay : t->max_delay;
}

void throttle_success(struct throttle *t, const char *addr)
{
	struct entry *e = *find_slot(t, addr);

	if (e != NULL)
		entry_remove(t, e);
}

size_t throttle_count(const struct throttle *t)
{
	return t->count;
}

/* FNV-1a over the (possibly cut) key. */
static uint32_t key_hash(const char *key)
{
	return hmap_hash(key, strnlen(key, THROTTLE_KEY_MAX), HMAP_SEED);
}

/* The link that points at the entry for key, or the NULL link ending its
 * bucket's chain. */
static struct entry **find_slot(struct throttle *t, const char *key)
{
	struct entry **p = &t->buckets[key_hash(key) & (t->nbuckets - 1)];

	while (*p != NULL && strncmp((*p)->key, key, THROTTLE_KEY_MAX) != 0)
		p = &(*p)->hnext;
	return p;
}

static void lru_unlink(struct throttle *t, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push(struct throttle *t, struct entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest != NULL)
		t->newest->newer = e;
	t->newest = e;
	if (t->oldest == NULL)
		t->oldest = e;
}

static void entry_remove(struct throttle *t, struct entry *e)
{
	struct entry **p = find_slot(t, e->key);

	*p = e->hnext;
	lru_unlink(t, e);
	t->count--;
	free(e);
}

/* Forget failures whose window has passed (or a clock that went back). */
static void entry_expire(const struct throttle *t, struct entry *e,
			 double now)
{
	if (e->failures > 0 && (now - e->first >= t->window || now < e->first))
		e->failures = 0;
}
