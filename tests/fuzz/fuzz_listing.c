/* tests/fuzz/fuzz_listing.c: the fetcher's listing (flist_uidl_line,
 * flist_list_line) behind the POP3 client's line splitter
 * (pop3c_lines_feed). Input: one byte of settings (bits 0-3: max_messages
 * - 1, bit 4: keep, bit 5: no UIDL, bits 6-7: piece size 1, 2, 7 or all),
 * then the UIDL body, a NUL, the LIST body. Against a small state, the
 * result must be well formed: at most max messages, each number once,
 * smallest first, every uid kept a usable one, state entries named by
 * the listing marked seen. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/client/pop3client.h"
#include "fetch/listing.h"
#include "fetch/state.h"

struct ctx {
	struct flist *l;
	struct fst *st;
	struct flist_rule rule;
	bool uidl;
};

static int line(void *arg, const char *s, size_t len, bool overlong)
{
	struct ctx *c = arg;

	FUZZ_CHECK(len <= FLIST_LINE_MAX && strlen(s) <= len);
	if (c->uidl)
		return flist_uidl_line(c->l, c->st, &c->rule, s, len, overlong);
	return flist_list_line(c->l, s, len, overlong);
}

static void feed(struct ctx *c, const uint8_t *p, size_t n, size_t piece)
{
	struct pop3c_lines lines;

	if (pop3c_lines_init(&lines, FLIST_LINE_MAX) < 0)
		return;
	for (size_t o = 0; o < n; o += piece)
		FUZZ_CHECK(pop3c_lines_feed(&lines, (const char *)p + o,
					    n - o < piece ? n - o : piece,
					    line, c) == 0);
	FUZZ_CHECK(pop3c_lines_end(&lines, line, c) == 0);
	pop3c_lines_free(&lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t pieces[] = { 1, 2, 7, SIZE_MAX };
	static const char state[] = "kantorpos-fetch-state 1\n"
				    "a 1 D <a@x> u@x\nb 1 S -\n~hdr:00 1 D -\n";
	struct fst st = { 0 };
	struct flist l;
	struct ctx c = { .l = &l, .st = &st };
	const uint8_t *nul;
	size_t max, piece, ulen;
	bool uidl_ok;
	char err[128];

	if (size < 1)
		return 0;
	max = (size_t)(data[0] & 15) + 1;
	c.rule.keep = (data[0] & 16) != 0;
	c.rule.now = 1000;
	uidl_ok = (data[0] & 32) == 0;
	piece = pieces[data[0] >> 6];
	data++;
	size--;
	nul = memchr(data, 0, size);
	ulen = nul != NULL ? (size_t)(nul - data) : size;
	FUZZ_CHECK(fst_parse(state, strlen(state), &st, err, sizeof(err)) == 0);
	FUZZ_CHECK(flist_init(&l, max) == 0);
	c.uidl = true;
	if (uidl_ok)
		feed(&c, data, ulen, piece);
	flist_uidl_end(&l, uidl_ok);
	c.uidl = false;
	if (nul != NULL)
		feed(&c, nul + 1, size - ulen - 1, piece);
	flist_list_end(&l);

	FUZZ_CHECK(l.n <= max);
	for (size_t i = 0; i < l.n; i++) {
		const char *uid = flist_uid(&l, &l.m[i]);

		FUZZ_CHECK(l.m[i].sized);
		FUZZ_CHECK(l.m[i].num >= 1 && l.m[i].num <= FLIST_NUM_MAX);
		FUZZ_CHECK(uid == NULL || (fst_uid_ok(uid) && !fst_is_key(uid)));
		/* Known and not due: never kept with its uid. */
		if (uid != NULL && fst_find(&st, uid) != NULL)
			FUZZ_CHECK(flist_due(fst_find(&st, uid), &c.rule));
		for (size_t j = 0; j < i; j++) {
			FUZZ_CHECK(l.m[j].num != l.m[i].num);
			FUZZ_CHECK(l.m[j].size <= l.m[i].size);
		}
	}
	FUZZ_CHECK(!fst_find(&st, "~hdr:00")->seen);
	flist_free(&l);
	fst_free(&st);
	return 0;
}
