/* fetch/strmap.c: the keyed open-addressing string index (linear probing,
 * at most half full, grown by doubling). */
#include "autoconf.h"

#include "fetch/strmap.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct sm_slot {
	uint32_t hash;
	uint32_t v; /* entry number + 1; 0: empty */
};

static uint32_t sm_hash(const struct strmap *m, const char *s)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint32_t h;

	crypto_shorthash(out, (const unsigned char *)s, strlen(s), m->key);
	memcpy(&h, out, sizeof(h));
	return h;
}

static void sm_put(struct sm_slot *slots, size_t cap, uint32_t hash,
		   uint32_t v1)
{
	size_t i = hash & (cap - 1);

	while (slots[i].v != 0)
		i = (i + 1) & (cap - 1);
	slots[i] = (struct sm_slot){ .hash = hash, .v = v1 };
}

static int sm_grow(struct strmap *m)
{
	size_t cap = m->cap ? 2 * m->cap : 64;
	struct sm_slot *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -1;
	if (m->slots == NULL) {
		/* sodium_init is idempotent; a failure leaves the key all
		 * zero, which is still a working (if guessable) index. */
		if (sodium_init() >= 0)
			randombytes_buf(m->key, sizeof(m->key));
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].v != 0)
			sm_put(slots, cap, m->slots[i].hash, m->slots[i].v);
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int sm_add(struct strmap *m, const char *s, uint32_t v)
{
	if ((m->n + 1) * 2 > m->cap && sm_grow(m) < 0)
		return -1;
	sm_put(m->slots, m->cap, sm_hash(m, s), v + 1);
	m->n++;
	return 0;
}

uint32_t sm_next(const struct strmap *m, struct sm_iter *it)
{
	while (m->cap > 0) {
		const struct sm_slot *sl = &m->slots[it->pos];

		if (sl->v == 0)
			return SM_NONE;
		it->pos = (it->pos + 1) & (m->cap - 1);
		if (sl->hash == it->hash)
			return sl->v - 1;
	}
	return SM_NONE;
}

uint32_t sm_first(const struct strmap *m, const char *s, struct sm_iter *it)
{
	if (m->cap == 0)
		return SM_NONE;
	it->hash = sm_hash(m, s);
	it->pos = it->hash & (m->cap - 1);
	return sm_next(m, it);
}

void sm_clear(struct strmap *m)
{
	if (m->slots != NULL)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->n = 0;
}

void sm_free(struct strmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
