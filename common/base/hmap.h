/* common/base/hmap.h: a chained hash table of nodes embedded in the
 * caller's objects (intrusive: it allocates only its bucket array), keyed
 * by a 32-bit hash the caller computes (hmap_hash, FNV-1a) and compared
 * by the caller: a lookup walks the nodes of one hash with hmap_first and
 * hmap_next and checks each candidate's key itself. The bucket array
 * doubles when there are more than two nodes a bucket; when that memory
 * is not there the table keeps working with longer chains.
 *
 *   uint32_t h = hmap_hash(name, strlen(name), HMAP_SEED);
 *   for (struct hmap_node *n = hmap_first(&m, h); n; n = hmap_next(n))
 *           if (strcmp(CONTAINER(n)->name, name) == 0) ...
 *
 * Not thread-safe; no globals. */
#ifndef KANTORPOS_COMMON_HMAP_H
#define KANTORPOS_COMMON_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* The starting value of an FNV-1a hash. */
#define HMAP_SEED 2166136261u

struct hmap_node {
	struct hmap_node *next;  /* in its bucket */
	uint32_t hash;
};

struct hmap {
	struct hmap_node **b;
	size_t nb;               /* a power of two; 0 before the first insert */
	size_t n;
};

/* FNV-1a of n bytes, continuing from h (HMAP_SEED to start); with
 * lower, ASCII letters count as lower case. */
uint32_t hmap_hash(const void *p, size_t n, uint32_t h);
uint32_t hmap_hash_lower(const char *s, uint32_t h);

/* An empty table (also what a zeroed struct hmap is). */
void hmap_init(struct hmap *m);

/* Free the bucket array; the nodes are the caller's. */
void hmap_free(struct hmap *m);

/* Add node with hash. Returns 0, or -1 (ENOMEM) when the very first
 * bucket array cannot be had. */
int hmap_insert(struct hmap *m, struct hmap_node *node, uint32_t hash);

/* Take node (which is in m) out. */
void hmap_remove(struct hmap *m, struct hmap_node *node);

/* The first node with this hash, the next one with the same hash; NULL
 * at the end. */
struct hmap_node *hmap_first(const struct hmap *m, uint32_t hash);
struct hmap_node *hmap_next(const struct hmap_node *node);

/* Every node, in no order: the first with *pos 0 and node NULL, then
 * the one after node. The table must not change while walking, except
 * that a node may be taken out once the one after it was fetched. */
struct hmap_node *hmap_walk(const struct hmap *m, size_t *pos,
			    struct hmap_node *node);

#endif
