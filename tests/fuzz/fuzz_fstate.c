/* tests/fuzz/fuzz_fstate.c: the fetcher's UIDL state file parser
 * (fst_parse). What parses must be well formed, hold an entry for every
 * line after the first, and survive a round trip through fst_format and
 * fst_parse unchanged; what fails leaves the state empty with a message. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>

#include "fetch/state.h"

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fst st = { 0 }, st2 = { 0 };
	char err[256], *text, *text2;
	size_t len, len2;

	err[0] = '\0';
	if (fst_parse((const char *)data, size, &st, err, sizeof(err)) < 0) {
		FUZZ_CHECK(st.n == 0 && st.e == NULL);
		FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
		return 0;
	}
	for (size_t i = 0; i < st.n; i++) {
		const struct fst_entry *e = &st.e[i];

		FUZZ_CHECK(fst_uid_ok(e->uid));
		FUZZ_CHECK(e->flag == FST_DELIVERED || e->flag == FST_SKIPPED);
		FUZZ_CHECK(fst_find(&st, e->uid) != NULL);
		FUZZ_CHECK(e->n_rcpts == 0 || e->rcpts != NULL);
	}
	/* Every line after the first is an entry: its uid is known. */
	for (size_t i = 0, line = 0; i < size; line++) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl != NULL ? (size_t)(nl - data) : size;
		const uint8_t *sp;
		size_t ulen;
		char uid[FST_UID_MAX + 1];

		/* Fields are split at runs of spaces, leading ones too. */
		while (line > 0 && i < end && data[i] == ' ')
			i++;
		sp = memchr(data + i, ' ', end - i);
		ulen = sp != NULL ? (size_t)(sp - data) - i : end - i;
		if (line > 0 && end > i) {
			FUZZ_CHECK(ulen <= FST_UID_MAX);
			memcpy(uid, data + i, ulen);
			uid[ulen] = '\0';
			FUZZ_CHECK(fst_find(&st, uid) != NULL);
		}
		i = end + 1;
	}
	text = fst_format(&st, &len);
	FUZZ_CHECK(text != NULL && strlen(text) == len);
	err[0] = '\0';
	FUZZ_CHECK(fst_parse(text, len, &st2, err, sizeof(err)) == 0);
	FUZZ_CHECK(st2.n == st.n);
	for (size_t i = 0; i < st.n; i++) {
		const struct fst_entry *a = &st.e[i], *b = &st2.e[i];

		FUZZ_CHECK(strcmp(a->uid, b->uid) == 0 && a->time == b->time &&
			   a->flag == b->flag && same_str(a->msgid, b->msgid) &&
			   a->n_rcpts == b->n_rcpts);
		for (size_t j = 0; j < a->n_rcpts; j++)
			FUZZ_CHECK(strcmp(a->rcpts[j], b->rcpts[j]) == 0);
	}
	/* Formatting is canonical: the second text is the first. */
	text2 = fst_format(&st2, &len2);
	FUZZ_CHECK(text2 != NULL && len2 == len && memcmp(text, text2, len) == 0);
	free(text2);
	free(text);
	fst_free(&st2);
	fst_free(&st);
	FUZZ_CHECK(st.n == 0 && st.e == NULL);
	return 0;
}
