/* tests/fuzz/fuzz_authres.c: authres_id_parse (common/auth/authres) on
 * any Authentication-Results value; then the input as a reason and a
 * property value of a built field, which must stay one well-formed field
 * whose authserv-id reads back. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/auth/authres.h"

static void build_and_read_back(const char *s)
{
	static struct authres ar;
	char id[AUTHRES_ID_MAX + 1];
	struct hdr_field f;
	const char *field, *line;
	size_t len, pos = 0;

	authres_begin(&ar, "mx.example.test");
	authres_result(&ar, "dkim", "fail");
	authres_reason(&ar, s);
	authres_prop(&ar, "header.d", s);
	authres_comment(&ar, s);
	field = authres_end(&ar, &len);
	FUZZ_CHECK(field != NULL);
	FUZZ_CHECK(len >= 2 && memcmp(field + len - 2, "\r\n", 2) == 0);
	for (line = field; line < field + len;) {
		const char *end = strstr(line, "\r\n");

		FUZZ_CHECK(end != NULL && end - line <= 998);
		FUZZ_CHECK(line == field || line[0] == ' ' || line[0] == '\t');
		line = end + 2;
	}
	FUZZ_CHECK(hdr_next_field(field, len, &pos, &f));
	FUZZ_CHECK(pos == len);
	FUZZ_CHECK(authres_is_ours(&f, "MX.example.test"));
	FUZZ_CHECK(authres_id_parse(f.value, f.value_len, id) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[AUTHRES_ID_MAX + 1];
	char *s;

	if (authres_id_parse((const char *)data, size, id) == 0)
		FUZZ_CHECK(id[0] != '\0' && strlen(id) <= AUTHRES_ID_MAX);
	s = fuzz_cstr(data, size);
	if (s == NULL)
		return 0;
	build_and_read_back(s);
	free(s);
	return 0;
}
