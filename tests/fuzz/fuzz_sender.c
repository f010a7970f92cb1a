/* tests/fuzz/fuzz_sender.c: the header scan of submitted mail
 * (submit_feed, submit_finish) in pieces and the strict From: reader
 * (sender_from_owned). Header (1 byte): the seed of the piece lengths;
 * the rest is content as stored. Checked: a scan in pieces finds what the
 * scan of the whole finds, the From: text stays bounded, and the reader
 * gives the same answer for the raw input and for its scanned From: text
 * twice in a row (no state between calls). */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "pipeline/sender.h"
#include "pipeline/submit.h"

static const char CONF[] = "data_dir /d\nuser_db /u\nlocal_domain example.test\n";
static const char ALIASES[] = "solo: alice\nteam: alice, bob\n";

static void scan(struct submit_scan *h, const char *in, size_t len,
		 unsigned seed, long *end_r)
{
	size_t pos = 0;

	submit_init(h);
	*end_r = -1;
	while (pos < len) {
		size_t n = seed == 0 ? len - pos : 1 + (seed % 7), end;

		seed = seed * 1103515245u + 12345u;
		if (n > len - pos)
			n = len - pos;
		if (submit_feed(h, in + pos, n, &end)) {
			FUZZ_CHECK(*end_r == -1 && end < n);
			*end_r = (long)(pos + end);
		}
		pos += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config *cfg;
	static struct aliases *al;
	static struct submit_scan whole, pieces;
	struct sender_ctx c;
	const char *in;
	long end_whole, end_pieces;
	size_t len;

	if (cfg == NULL) {
		char *err = NULL;

		cfg = config_parse("f.conf", "/", CONF, strlen(CONF), &err);
		FUZZ_CHECK(cfg != NULL);
		FUZZ_CHECK(aliases_parse("aliases", ALIASES, strlen(ALIASES), cfg,
					 &al, &err) == 0);
	}
	if (size < 1)
		return 0;
	in = (const char *)data + 1;
	len = size - 1;
	scan(&whole, in, len, 0, &end_whole);
	scan(&pieces, in, len, data[0] + 1u, &end_pieces);
	FUZZ_CHECK(end_whole == end_pieces);
	FUZZ_CHECK(whole.has_date == pieces.has_date &&
		   whole.has_msgid == pieces.has_msgid &&
		   whole.n_from == pieces.n_from &&
		   whole.from_long == pieces.from_long);
	FUZZ_CHECK(whole.from_len <= SUBMIT_FROM_MAX &&
		   whole.from_len == pieces.from_len &&
		   memcmp(whole.from, pieces.from, whole.from_len) == 0);
	FUZZ_CHECK(submit_finish(&whole) == (end_whole == -1 &&
					     pieces.line_start));
	c = (struct sender_ctx){ cfg, al, "alice@example.test", "127.0.0.1" };
	FUZZ_CHECK(sender_from_owned(&c, in, len) ==
		   sender_from_owned(&c, in, len));
	FUZZ_CHECK(sender_from_owned(&c, whole.from, whole.from_len) ==
		   sender_from_owned(&c, whole.from, whole.from_len));
	c.login = NULL;
	FUZZ_CHECK(!sender_from_owned(&c, in, len));
	return 0;
}
