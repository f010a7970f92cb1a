/* tests/test_hmap.c: the intrusive hash table (common/base/hmap.h): the
 * FNV-1a values, lookups through collisions, growth, removal while
 * walking. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/base/hmap.h"

struct thing {
	struct hmap_node node;
	char key[16];
	int found;
};

#define THING_OF(n) ((struct thing *)(void *)((char *)(n) - \
					      offsetof(struct thing, node)))

struct hash_row {
	const char *in;
	uint32_t want;
};

/* FNV-1a 32-bit reference values. */
static const struct hash_row hash_rows[] = {
	{ "", 0x811c9dc5u },
	{ "a", 0xe40c292cu },
	{ "foobar", 0xbf9cf968u },
};

Test(hmap, fnv1a)
{
	for (size_t i = 0; i < sizeof(hash_rows) / sizeof(hash_rows[0]); i++)
		cr_expect_eq(hmap_hash(hash_rows[i].in, strlen(hash_rows[i].in),
				       HMAP_SEED), hash_rows[i].want, "%s",
			     hash_rows[i].in);
	cr_expect_eq(hmap_hash_lower("FooBar", HMAP_SEED),
		     hmap_hash("foobar", 6, HMAP_SEED));
}

static struct thing *find(struct hmap *m, const char *key, uint32_t h)
{
	for (struct hmap_node *n = hmap_first(m, h); n != NULL; n = hmap_next(n))
		if (strcmp(THING_OF(n)->key, key) == 0)
			return THING_OF(n);
	return NULL;
}

/* Many things, every fourth with the same hash (collisions), through
 * growth; then every even one taken out while walking. */
Test(hmap, insert_find_walk_remove)
{
	static struct thing things[1000];
	struct hmap m;
	struct hmap_node *n, *next;
	size_t pos = 0, seen = 0;

	hmap_init(&m);
	cr_expect_null(hmap_first(&m, 1));
	for (size_t i = 0; i < 1000; i++) {
		snprintf(things[i].key, sizeof(things[i].key), "k%zu", i);
		cr_assert_eq(hmap_insert(&m, &things[i].node,
					 i % 4 == 0 ? 7u : (uint32_t)i * 2654435761u), 0);
	}
	cr_expect_eq(m.n, 1000);
	cr_expect_gt(m.nb, 16);
	for (size_t i = 0; i < 1000; i++)
		cr_expect_eq(find(&m, things[i].key,
				  i % 4 == 0 ? 7u : (uint32_t)i * 2654435761u),
			     &things[i]);
	cr_expect_null(find(&m, "nope", 7u));
	for (n = hmap_walk(&m, &pos, NULL); n != NULL; n = next) {
		struct thing *t = THING_OF(n);

		next = hmap_walk(&m, &pos, n);
		t->found++;
		seen++;
		if ((t - things) % 2 == 0)
			hmap_remove(&m, n);
	}
	cr_expect_eq(seen, 1000);
	cr_expect_eq(m.n, 500);
	for (size_t i = 0; i < 1000; i++) {
		cr_expect_eq(things[i].found, 1, "%zu", i);
		cr_expect_eq(find(&m, things[i].key,
				  i % 4 == 0 ? 7u : (uint32_t)i * 2654435761u) != NULL,
			     i % 2 == 1, "%zu", i);
	}
	hmap_free(&m);
	cr_expect_eq(m.nb, 0);
}
