/* outbound/dtarget.c: the targets of direct delivery, their queues and
 * the addresses that are down (outbound/dtarget.h). */
#include "autoconf.h"

#include "outbound/dtarget.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An address that is down. */
struct ddown {
	struct hmap_node node;
	struct dns_addr addr;
	time_t until;
	char why[SMTPC_TEXT_MAX];
};

#define DOWN_OF(n) ((struct ddown *)(void *)((char *)(n) - \
					      offsetof(struct ddown, node)))
#define TARGET_OF(n) ((struct dtarget *)(void *)((char *)(n) - \
						  offsetof(struct dtarget, node)))

static size_t addr_len(const struct dns_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

static bool same_addr(const struct dns_addr *a, const struct dns_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->addr, b->addr, addr_len(a)) == 0;
}

static uint32_t addr_hash(const struct dns_addr *a)
{
	return hmap_hash(a->addr, addr_len(a), HMAP_SEED ^ (uint32_t)a->family);
}

void dtargets_init(struct dtargets *ts)
{
	*ts = (struct dtargets){ .first = NULL };
	hmap_init(&ts->map);
	hmap_init(&ts->down);
}

void dtargets_free(struct dtargets *ts)
{
	struct hmap_node *n, *next;
	size_t pos = 0;

	while (ts->first != NULL) {
		struct dtarget *t = ts->first;

		ts->first = t->next;
		tlsp_target_free(&t->tls);
		free(t);
	}
	for (n = hmap_walk(&ts->down, &pos, NULL); n != NULL; n = next) {
		next = hmap_walk(&ts->down, &pos, n);
		free(DOWN_OF(n));
	}
	hmap_free(&ts->map);
	hmap_free(&ts->down);
}

static struct dtarget *target_new(const char *name, const struct dns_addr *a,
				  const struct tlsp_out *tls)
{
	struct dtarget *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (tlsp_target_copy(&t->tls, tls) < 0) {
		free(t);
		return NULL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->addr = *a;
	inet_ntop(a->family, a->addr, t->text, sizeof(t->text));
	return t;
}

struct dtarget *dtarget_get(struct dtargets *ts, const char *name,
			    const struct dns_addr *a,
			    const struct tlsp_out *tls)
{
	uint32_t h = hmap_hash_lower(name, addr_hash(a));
	struct dtarget *t;

	for (struct hmap_node *n = hmap_first(&ts->map, h); n != NULL;
	     n = hmap_next(n)) {
		t = TARGET_OF(n);
		if (same_addr(&t->addr, a) && strcasecmp(t->name, name) == 0 &&
		    tlsp_target_same(&t->tls, tls))
			return t;
	}
	if ((t = target_new(name, a, tls)) == NULL)
		return NULL;
	if (hmap_insert(&ts->map, &t->node, h) < 0) {
		tlsp_target_free(&t->tls);
		free(t);
		return NULL;
	}
	t->next = ts->first;
	if (ts->first != NULL)
		ts->first->prev = t;
	ts->first = t;
	return t;
}

void dtarget_release(struct dtargets *ts, struct dtarget *t)
{
	if (t->waiting > 0 || t->carried > 0 || t->sessions > 0)
		return;
	hmap_remove(&ts->map, &t->node);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		ts->first = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	tlsp_target_free(&t->tls);
	free(t);
}

void dtarget_push(struct dtarget *t, struct dtarget_link *l, bool front)
{
	l->next = NULL;
	if (front) {
		l->next = t->head;
		t->head = l;
		if (t->tail == NULL)
			t->tail = l;
	} else {
		if (t->tail != NULL)
			t->tail->next = l;
		else
			t->head = l;
		t->tail = l;
	}
	t->waiting++;
}

struct dtarget_link *dtarget_pop(struct dtarget *t)
{
	struct dtarget_link *l = t->head;

	if (l == NULL)
		return NULL;
	t->head = l->next;
	if (t->head == NULL)
		t->tail = NULL;
	l->next = NULL;
	t->waiting--;
	return l;
}

void dtarget_unlink(struct dtarget *t, struct dtarget_link *l)
{
	struct dtarget_link *prev = NULL;

	for (struct dtarget_link **pp = &t->head; *pp != NULL;
	     prev = *pp, pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			if (t->tail == l)
				t->tail = prev;
			l->next = NULL;
			t->waiting--;
			return;
		}
	}
}

static struct ddown *down_find(struct dtargets *ts, const struct dns_addr *a,
			       time_t now)
{
	for (struct hmap_node *n = hmap_first(&ts->down, addr_hash(a));
	     n != NULL; n = hmap_next(n)) {
		struct ddown *x = DOWN_OF(n);

		if (!same_addr(&x->addr, a))
			continue;
		if (x->until > now)
			return x;
		hmap_remove(&ts->down, n);
		free(x);
		return NULL;
	}
	return NULL;
}

const char *dtargets_down(struct dtargets *ts, const struct dns_addr *a,
			  time_t now)
{
	struct ddown *x = down_find(ts, a, now);

	return x != NULL ? x->why : NULL;
}

/* Forget every entry that has expired (marking one down is rare). */
static void down_purge(struct dtargets *ts, time_t now)
{
	struct hmap_node *n, *next;
	size_t pos = 0;

	for (n = hmap_walk(&ts->down, &pos, NULL); n != NULL; n = next) {
		next = hmap_walk(&ts->down, &pos, n);
		if (DOWN_OF(n)->until <= now) {
			hmap_remove(&ts->down, n);
			free(DOWN_OF(n));
		}
	}
}

bool dtargets_mark_down(struct dtargets *ts, const struct dns_addr *a,
			time_t now, time_t until, const char *why)
{
	struct ddown *x;

	down_purge(ts, now);
	if (down_find(ts, a, now) != NULL ||
	    (x = calloc(1, sizeof(*x))) == NULL)
		return false;
	x->addr = *a;
	x->until = until;
	snprintf(x->why, sizeof(x->why), "%s", why);
	if (hmap_insert(&ts->down, &x->node, addr_hash(a)) < 0) {
		free(x);
		return false;
	}
	return true;
}
