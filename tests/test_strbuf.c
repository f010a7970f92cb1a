/* tests/test_strbuf.c: the growable text buffer (common/base/strbuf):
 * text built from pieces and formats, the room/grew pair, taking the text,
 * and a failed buffer that stays failed and gives nothing. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/strbuf.h"

Test(strbuf, pieces_and_formats_in_order)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len;

	strbuf_add(&sb, "ab", 2);
	strbuf_adds(&sb, "cd");
	strbuf_addf(&sb, "-%d-%s", 42, "x");
	strbuf_add(&sb, "", 0);
	cr_assert_str_eq(sb.p, "abcd-42-x");
	char *t = strbuf_take(&sb, &len);

	cr_assert_str_eq(t, "abcd-42-x");
	cr_assert_eq(len, 9);
	cr_assert_null(sb.p);
	cr_assert_eq(sb.len, 0);
	free(t);
}

Test(strbuf, grows_past_many_reallocations)
{
	struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < 10000; i++)
		strbuf_addf(&sb, "%04d\n", i % 10000);
	cr_assert_eq(sb.len, 50000);
	cr_assert_eq(memcmp(sb.p + 49995, "9999\n", 5), 0);
	cr_assert_eq(sb.p[sb.len], '\0');
	strbuf_free(&sb);
	cr_assert_null(sb.p);
}

Test(strbuf, room_then_grew)
{
	struct strbuf sb = STRBUF_INIT;
	char *room;

	strbuf_adds(&sb, "x=");
	room = strbuf_room(&sb, 10);
	cr_assert_not_null(room);
	memcpy(room, "12345", 5);
	strbuf_grew(&sb, 5);
	cr_assert_str_eq(sb.p, "x=12345");
	strbuf_free(&sb);
}

Test(strbuf, empty_take_is_an_empty_string)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len = 7;
	char *t = strbuf_take(&sb, &len);

	cr_assert_str_eq(t, "");
	cr_assert_eq(len, 0);
	free(t);
}

Test(strbuf, failed_stays_failed_and_gives_nothing)
{
	struct strbuf sb = STRBUF_INIT;
	size_t len = 7;

	strbuf_adds(&sb, "kept");
	cr_assert_null(strbuf_room(&sb, (size_t)-1 / 2));
	cr_assert(sb.failed);
	strbuf_adds(&sb, "more");
	strbuf_addf(&sb, "%s", "and more");
	cr_assert_null(strbuf_room(&sb, 1));
	cr_assert_null(strbuf_take(&sb, &len));
	cr_assert_eq(len, 0);
	cr_assert_null(sb.p);
	cr_assert(!sb.failed);
}
