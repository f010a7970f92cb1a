/* tests/fuzz/fuzz_mdname.c: the Maildir name reader (base length, ,S= and
 * ,W= fields, delivery time, POP3 unique-id) on arbitrary names, and
 * mdname_make with the input as host name, read back. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "store/mdname.h"

static void read_name(const char *name)
{
	char uidl[MDNAME_UIDL_MAX + 1];
	size_t base = mdname_base_len(name);
	uint64_t v;

	FUZZ_CHECK(base <= strlen(name));
	FUZZ_CHECK(memchr(name, ':', base) == NULL);
	(void)mdname_field(name, 'S', &v);
	(void)mdname_field(name, 'W', &v);
	(void)mdname_time(name);
	if (mdname_uidl(name, uidl) == 0) {
		size_t n = strlen(uidl);

		FUZZ_CHECK(n >= 1 && n <= MDNAME_UIDL_MAX);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(uidl[i] >= 0x21 && uidl[i] <= 0x7e);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = fuzz_cstr(data, size);
	char made[512];
	size_t room;

	FUZZ_CHECK(name != NULL);
	read_name(name);

	/* As host: the made name is one safe path component whose time and
	 * base read back, whatever the host holds. */
	room = size > 0 ? 1 + data[0] % sizeof(made) : sizeof(made);
	if (mdname_make(made, room, 1700000000LL, 42, 4242, 7, name) == 0) {
		FUZZ_CHECK(strlen(made) < room);
		FUZZ_CHECK(strchr(made, '/') == NULL && strchr(made, ':') == NULL);
		FUZZ_CHECK(mdname_time(made) == 1700000000LL);
		FUZZ_CHECK(mdname_base_len(made) == strlen(made));
		read_name(made);
	} else {
		FUZZ_CHECK(made[0] == '\0');
	}
	free(name);
	return 0;
}
