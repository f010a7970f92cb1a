/* tests/fuzz/fuzz_headers.c: the fetcher's header scanner (fh_parse) with
 * the DomainPOP domain, recipient header list, skip_received, account and
 * hostname (the loop guard's Received check) chosen by the first byte,
 * then the same text as one address list (fh_address_list) into a small
 * key array. Results must be well formed: keys in the domain, distinct,
 * within their limits. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <string.h>
#include <strings.h>

#include "fetch/headers.h"

static const char *const DOMAINS[] = { NULL, "example.test", "EXAMPLE.TEST",
				       "b\xc3\xbc" "cher.example" };

static const char *const LIST_A[] = { "Delivered-To", "X-Original-To",
				      "To", "Cc", "Received" };
static const char *const LIST_B[] = { "Received", "Envelope-To", "To",
				      "Bcc", "Resent-To", "Resent-Cc" };
static const char *const LIST_C[] = { "To" };

static void check_keys(char (*keys)[ADDR_KEY_SIZE], size_t n,
		       const char *domain)
{
	for (size_t i = 0; i < n; i++) {
		const char *at = strrchr(keys[i], '@');

		FUZZ_CHECK(strlen(keys[i]) < ADDR_KEY_SIZE);
		FUZZ_CHECK(at != NULL && at != keys[i] && at[1] != '\0');
		FUZZ_CHECK(domain == NULL || strcasecmp(at + 1, domain) == 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(keys[i], keys[j]) != 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fh_options o = { 0 };
	struct fh_result r;
	char keys[3][ADDR_KEY_SIZE];
	const char *text, *reason;
	size_t len, n = 0, added, max;
	unsigned sel;

	if (size < 1)
		return 0;
	sel = data[0];
	text = (const char *)data + 1;
	len = size - 1;
	o.domain = DOMAINS[sel % 4];
	switch ((sel / 4) % 4) {
	case 0: o.headers = LIST_A; o.n_headers = 5; break;
	case 1: o.headers = LIST_B; o.n_headers = 6; break;
	case 2: o.headers = LIST_C; o.n_headers = 1; break;
	default: o.headers = NULL; o.n_headers = 0; break;
	}
	o.skip_received = (sel / 16) % 4;
	o.account = (sel & 0x40) ? "acct" : "other";
	/* The loop guard's Received check runs with a hostname only. */
	o.hostname = (sel & 0x80) ? "mail.example.test" : NULL;

	if (fh_parse(text, len, &o, &r) == 0) {
		FUZZ_CHECK(r.n_rcpts <= FH_MAX_ADDRS &&
			   r.n_delivered_to <= FH_MAX_ADDRS);
		if (o.domain == NULL)
			FUZZ_CHECK(r.n_rcpts == 0);
		check_keys(r.rcpts, r.n_rcpts, o.domain);
		for (size_t i = 0; i < r.n_delivered_to; i++)
			FUZZ_CHECK(strchr(r.delivered_to[i], '@') != NULL);
		if (r.n_rcpts > 0) {
			bool listed = false;

			for (size_t i = 0; i < o.n_headers; i++)
				listed |= r.rcpt_header == o.headers[i];
			FUZZ_CHECK(listed);
		}
		if (r.message_id != NULL) {
			size_t m = strlen(r.message_id);

			/* "<...>" when there is one, else the bare value:
			 * printable ASCII without blanks either way. */
			FUZZ_CHECK(m >= 1 && m <= FH_MSGID_MAX);
			for (size_t i = 0; i < m; i++)
				FUZZ_CHECK(r.message_id[i] > 0x20 &&
					   r.message_id[i] < 0x7f);
		}
		reason = fh_loop_reason(&r, NULL);
		FUZZ_CHECK(reason == NULL || *reason != '\0');
		reason = fh_loop_reason(&r, "alice@example.test");
		FUZZ_CHECK(!r.fetched_mark || reason != NULL);
		fh_result_free(&r);
		FUZZ_CHECK(r.rcpts == NULL && r.message_id == NULL);
	}

	/* The text as one address list, into room for 0 to 3 keys. */
	max = (sel >> 6) % 4;
	added = fh_address_list(text, len, o.domain, keys, &n, max);
	FUZZ_CHECK(added == n && n <= max);
	check_keys(keys, n, o.domain);
	return 0;
}
