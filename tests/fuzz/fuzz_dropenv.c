/* tests/fuzz/fuzz_dropenv.c: the envelope of a drop file
 * (store/drop_env.h), which any local user can write, read from arbitrary
 * input. Checked: the answer is 1, 0 or -1 with a reason; a whole
 * envelope lies within the input, ends in its empty line and has a
 * recipient; written back by drop_env_format it reads back the same. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "store/drop_env.h"

static bool same_mailbox(const struct addr_mailbox *a,
			 const struct addr_mailbox *b)
{
	return strcmp(a->local, b->local) == 0 &&
	       strcmp(a->domain, b->domain) == 0;
}

static void round_trip(const struct drop_env *env)
{
	struct drop_env back;
	const char *why = NULL;
	char *text;
	size_t len;

	if (drop_env_format(env, &text, &len) < 0)
		return; /* an address too long for a line */
	FUZZ_CHECK(text[DROP_ENV_BODY_AT] == (env->eightbit ? '8' : '7'));
	FUZZ_CHECK(drop_env_parse(text, len, &back, &why) == 1);
	FUZZ_CHECK(back.len == len);
	FUZZ_CHECK(back.n_rcpts == env->n_rcpts);
	FUZZ_CHECK(back.has_sender == env->has_sender);
	FUZZ_CHECK(back.null_sender == env->null_sender);
	FUZZ_CHECK(back.eightbit == env->eightbit);
	if (env->has_sender && !env->null_sender)
		FUZZ_CHECK(same_mailbox(&back.sender, &env->sender));
	for (size_t i = 0; i < env->n_rcpts; i++)
		FUZZ_CHECK(same_mailbox(&back.rcpts[i], &env->rcpts[i]));
	drop_env_free(&back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *why = NULL;
	struct drop_env env;
	int rc = drop_env_parse(text, size, &env, &why);

	FUZZ_CHECK(rc >= -1 && rc <= 1);
	FUZZ_CHECK((rc == -1) == (why != NULL));
	if (rc != 1)
		return 0;
	FUZZ_CHECK(env.len <= size && env.len >= 2);
	FUZZ_CHECK(text[env.len - 1] == '\n' && text[env.len - 2] == '\n');
	FUZZ_CHECK(env.n_rcpts >= 1);
	round_trip(&env);
	drop_env_free(&env);
	return 0;
}
