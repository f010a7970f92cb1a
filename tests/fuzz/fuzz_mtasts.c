/* tests/fuzz/fuzz_mtasts.c: the MTA-STS parsers (outbound/mtasts_policy):
 * the first byte picks the parser. Even: mtasts_policy_parse of the rest,
 * then every pattern matched against itself with one label for a
 * wildcard. Odd: mtasts_txt_parse of the rest split at NUL octets into
 * TXT records (at most 8). */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbound/mtasts_policy.h"

static void fuzz_policy(const uint8_t *data, size_t size)
{
	static struct mtasts_policy p;
	const char *why = NULL;
	char host[DNS_NAME_MAX + 4];

	if (mtasts_policy_parse((const char *)data, size, &p, &why) < 0) {
		FUZZ_CHECK(why != NULL);
		return;
	}
	FUZZ_CHECK(p.max_age <= MTASTS_MAX_AGE_MAX);
	FUZZ_CHECK(p.mode == MTASTS_NONE || p.n_mx > 0);
	FUZZ_CHECK(p.n_mx <= MTASTS_MX_MAX);
	for (size_t i = 0; i < p.n_mx; i++) {
		FUZZ_CHECK(strlen(p.mx[i]) <= DNS_NAME_MAX);
		if (strncmp(p.mx[i], "*.", 2) == 0)
			snprintf(host, sizeof(host), "a%s", p.mx[i] + 1);
		else
			snprintf(host, sizeof(host), "%s", p.mx[i]);
		FUZZ_CHECK(mtasts_mx_match(&p, host));
	}
}

static void fuzz_txt(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), id[MTASTS_ID_MAX + 1];
	const char *recs[8], *why = NULL;
	size_t n = 0;

	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy; n < 8 && p <= copy + size; p += strlen(p) + 1)
		recs[n++] = p;
	if (mtasts_txt_parse(recs, n, id, &why) == 0)
		FUZZ_CHECK(id[0] != '\0' && strlen(id) <= MTASTS_ID_MAX);
	else
		FUZZ_CHECK(why != NULL);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_policy(data + 1, size - 1);
	else
		fuzz_txt(data + 1, size - 1);
	return 0;
}
