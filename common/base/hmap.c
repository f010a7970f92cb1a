/* common/base/hmap.c: the intrusive chained hash table (common/base/hmap.h). */
#include "autoconf.h"

#include "common/base/hmap.h"

#include <errno.h>
#include <stdlib.h>

#define HMAP_FIRST_BUCKETS 16

uint32_t hmap_hash(const void *p, size_t n, uint32_t h)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

uint32_t hmap_hash_lower(const char *s, uint32_t h)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 16777619u;
	}
	return h;
}

void hmap_init(struct hmap *m)
{
	*m = (struct hmap){ 0 };
}

void hmap_free(struct hmap *m)
{
	free(m->b);
	hmap_init(m);
}

/* Double the buckets; without the memory the old ones stay. */
static void grow(struct hmap *m)
{
	size_t nb = m->nb * 2;
	struct hmap_node **b = calloc(nb, sizeof(*b));

	if (b == NULL)
		return;
	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_node *node = m->b[i], *next;

		for (; node != NULL; node = next) {
			next = node->next;
			node->next = b[node->hash & (nb - 1)];
			b[node->hash & (nb - 1)] = node;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

int hmap_insert(struct hmap *m, struct hmap_node *node, uint32_t hash)
{
	struct hmap_node **slot;

	if (m->nb == 0) {
		if ((m->b = calloc(HMAP_FIRST_BUCKETS, sizeof(*m->b))) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		m->nb = HMAP_FIRST_BUCKETS;
	} else if (m->n >= 2 * m->nb) {
		grow(m);
	}
	node->hash = hash;
	slot = &m->b[hash & (m->nb - 1)];
	node->next = *slot;
	*slot = node;
	m->n++;
	return 0;
}

void hmap_remove(struct hmap *m, struct hmap_node *node)
{
	if (m->nb == 0)
		return;
	for (struct hmap_node **pp = &m->b[node->hash & (m->nb - 1)];
	     *pp != NULL; pp = &(*pp)->next) {
		if (*pp == node) {
			*pp = node->next;
			node->next = NULL;
			m->n--;
			return;
		}
	}
}

/* node or the first after it in its chain with the same hash. */
static struct hmap_node *same_hash(struct hmap_node *node, uint32_t hash)
{
	while (node != NULL && node->hash != hash)
		node = node->next;
	return node;
}

struct hmap_node *hmap_first(const struct hmap *m, uint32_t hash)
{
	if (m->nb == 0)
		return NULL;
	return same_hash(m->b[hash & (m->nb - 1)], hash);
}

struct hmap_node *hmap_next(const struct hmap_node *node)
{
	return same_hash(node->next, node->hash);
}

struct hmap_node *hmap_walk(const struct hmap *m, size_t *pos,
			    struct hmap_node *node)
{
	if (node != NULL && node->next != NULL)
		return node->next;
	for (; *pos < m->nb; (*pos)++)
		if (m->b[*pos] != NULL)
			return m->b[(*pos)++];
	return NULL;
}
