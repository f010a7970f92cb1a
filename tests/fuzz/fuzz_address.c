/* tests/fuzz/fuzz_address.c: addr_parse_path and addr_parse_mailbox, with
 * and without UTF-8, and the key built from what they accept. The first
 * byte picks the entry point and options; the rest is the text. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/mail/address.h"

static void check_mailbox(const struct addr_mailbox *mb, unsigned opts)
{
	char key[ADDR_KEY_SIZE];
	const char *why;

	FUZZ_CHECK(memchr(mb->local, '\0', sizeof(mb->local)) != NULL);
	FUZZ_CHECK(memchr(mb->domain, '\0', sizeof(mb->domain)) != NULL);
	FUZZ_CHECK(strlen(mb->local) <= ADDR_LOCAL_MAX);
	if (!(opts & ADDR_OPT_UTF8))
		FUZZ_CHECK(!(mb->flags & ADDR_MB_UTF8));
	if (addr_key(mb, key, sizeof(key), &why) == 0) {
		FUZZ_CHECK(strlen(key) < sizeof(key));
		FUZZ_CHECK(strchr(key, '@') != NULL);
	}
	(void)addr_subaddress(mb->local, "+-", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_error err;
	unsigned opts;
	const char *s;
	size_t len;

	if (size < 1)
		return 0;
	opts = data[0] & (ADDR_OPT_UTF8 | ADDR_OPT_POSTMASTER);
	s = (const char *)data + 1;
	len = size - 1;
	if (data[0] & 0x80) {
		struct addr_mailbox mb;

		memset(&err, 0, sizeof(err));
		if (addr_parse_mailbox(s, len, opts, &mb, &err) == 0)
			check_mailbox(&mb, opts);
		else
			FUZZ_CHECK(err.part >= ADDR_ERR_PATH &&
				   err.part <= ADDR_ERR_UTF8 && err.why != NULL);
		(void)addr_component_safe_n(s, len, NULL);
	} else {
		struct addr_path path;

		memset(&err, 0, sizeof(err));
		if (addr_parse_path(s, len, opts, &path, &err) == 0) {
			/* The parameters lie inside the input. */
			FUZZ_CHECK(path.rest >= s && path.rest <= s + len);
			FUZZ_CHECK(path.rest_len <= (size_t)(s + len - path.rest));
			if (!(path.flags & (ADDR_PATH_NULL |
					    ADDR_PATH_BARE_POSTMASTER)))
				check_mailbox(&path.mailbox, opts);
		} else {
			FUZZ_CHECK(err.part >= ADDR_ERR_PATH &&
				   err.part <= ADDR_ERR_UTF8 && err.why != NULL);
		}
	}
	return 0;
}
