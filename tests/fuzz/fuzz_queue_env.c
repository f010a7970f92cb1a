/* tests/fuzz/fuzz_queue_env.c: the queue envelope file (queue_env_parse)
 * on hostile input, with its RFC 3461 fields (ret, envid, dsn lines): what
 * parses formats back (queue_env_format) into text that parses to the same
 * envelope and formats to the same bytes. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "store/queue_env.h"

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same(const struct queue_env *a, const struct queue_env *b)
{
	FUZZ_CHECK(strcmp(a->sender, b->sender) == 0);
	FUZZ_CHECK(strcmp(a->domain, b->domain) == 0);
	FUZZ_CHECK(a->ret == b->ret && same_str(a->envid, b->envid));
	FUZZ_CHECK(a->n_rcpts == b->n_rcpts);
	for (size_t i = 0; i < a->n_rcpts; i++) {
		const struct queue_rcpt *x = &a->rcpts[i], *y = &b->rcpts[i];

		FUZZ_CHECK(strcmp(x->addr, y->addr) == 0 && x->state == y->state);
		FUZZ_CHECK(x->notify == y->notify && x->delay_sent == y->delay_sent);
		FUZZ_CHECK(same_str(x->orcpt, y->orcpt));
		/* NEVER stands alone. */
		FUZZ_CHECK(!(x->notify & DSN_NOTIFY_NEVER) ||
			   x->notify == DSN_NOTIFY_NEVER);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_env env, back;
	const char *why = NULL;
	char *text, *text2;
	size_t len, len2;

	if (queue_env_parse((const char *)data, size, &env, &why) < 0) {
		FUZZ_CHECK(why != NULL);
		return 0;
	}
	FUZZ_CHECK(env.sender != NULL && env.domain != NULL && env.n_rcpts > 0);
	FUZZ_CHECK(queue_env_format(&env, &text, &len) == 0);
	FUZZ_CHECK(queue_env_parse(text, len, &back, &why) == 0);
	check_same(&env, &back);
	FUZZ_CHECK(queue_env_format(&back, &text2, &len2) == 0);
	FUZZ_CHECK(len == len2 && memcmp(text, text2, len) == 0);
	free(text);
	free(text2);
	queue_env_clear(&env);
	queue_env_clear(&back);
	return 0;
}
