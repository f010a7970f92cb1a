/* fetch/strmap.h: an index from strings to entry numbers of an array its
 * owner keeps (the UIDL state, the server's listing): open addressing on
 * a keyed SipHash (a random key per index), so that a server choosing its
 * unique ids cannot make lookups collide. The index holds no strings: the
 * owner compares its own at each candidate. Several entries may share a
 * key; stale candidates are harmless for the same reason.
 *
 * Use: for (v = sm_first(m, s, &it); v != SM_NONE; v = sm_next(m, &it))
 *          if (strcmp(owner[v].key, s) == 0) ... */
#ifndef KANTORPOS_FETCH_STRMAP_H
#define KANTORPOS_FETCH_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SM_NONE UINT32_MAX

struct sm_slot;

struct strmap {
	struct sm_slot *slots; /* NULL until the first add */
	size_t cap, n;         /* cap: a power of two, or 0 */
	unsigned char key[16];
};

struct sm_iter {
	uint32_t hash;
	size_t pos;
};

/* Index entry number v (below SM_NONE) under s. Returns 0, or -1 when out
 * of memory (the index is unchanged then). */
int sm_add(struct strmap *m, const char *s, uint32_t v);

/* The first candidate for s, or SM_NONE; then the next ones. */
uint32_t sm_first(const struct strmap *m, const char *s, struct sm_iter *it);
uint32_t sm_next(const struct strmap *m, struct sm_iter *it);

/* Forget every entry (the memory is kept for refilling). */
void sm_clear(struct strmap *m);

/* Free the index and empty it ({0} again). */
void sm_free(struct strmap *m);

#endif
