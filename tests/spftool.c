/* tests/spftool.c: one SPF check (common/auth/spf_eval) against a zone
 * in text, for tests/e2e_spf_suite.py:
 *
 *   spftool < scenario
 *
 * The input is the zone, one record a line (tests/helpers/spfzone.h),
 * and the check's lines, each a keyword and one field (quoted when it
 * holds spaces or is empty):
 *
 *   =ip 192.0.2.1   =sender "foo@example.com"   =helo mail.example.com
 *   =receiver mx.example.org   =time 1700000000
 *
 * It prints "result RESULT", "explanation TEXT" (only when exp= gave
 * one), "mechanism TERM", "why REASON" and "queries N" (the questions
 * the evaluation asked). Exit status 0, 1 on a bad line, 2 for bad
 * usage. Not installed. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth/spf_eval.h"
#include "common/dns/dns_parse.h"
#include "tests/helpers/spfzone.h"

struct check {
	char ip[64], sender[1024], helo[1024], receiver[256];
	long long now;
};

/* A "=keyword value" line into c. */
static int check_line(struct check *c, const char *line)
{
	char *buf = malloc(strlen(line) + 1), *f[3];
	size_t len[3];
	int n = buf != NULL ? spfzone_fields(line, buf, f, len, 3) : -1, rc = 0;

	if (n != 2)
		rc = -1;
	else if (strcmp(f[0], "=ip") == 0)
		snprintf(c->ip, sizeof(c->ip), "%s", f[1]);
	else if (strcmp(f[0], "=sender") == 0)
		snprintf(c->sender, sizeof(c->sender), "%s", f[1]);
	else if (strcmp(f[0], "=helo") == 0)
		snprintf(c->helo, sizeof(c->helo), "%s", f[1]);
	else if (strcmp(f[0], "=receiver") == 0)
		snprintf(c->receiver, sizeof(c->receiver), "%s", f[1]);
	else if (strcmp(f[0], "=time") == 0)
		c->now = atoll(f[1]);
	else
		rc = -1;
	free(buf);
	return rc;
}

static int run(const struct spfzone *z, const struct check *c)
{
	struct spf_input in = { c->ip, c->sender, c->helo,
				c->receiver[0] != '\0' ? c->receiver : NULL,
				(time_t)c->now };
	struct spf *s = spf_new(&in);
	struct spf_query q;
	unsigned queries = 0;

	if (s == NULL) {
		fprintf(stderr, "spftool: bad client address %s\n", c->ip);
		return 1;
	}
	while (spf_step(s, &q) == 0) {
		struct dns_answer a;

		spfzone_answer(z, q.name, q.type, &a);
		spf_answer(s, &a);
		dns_answer_free(&a);
		queries++;
	}
	printf("result %s\n", spf_result_str(spf_result(s)));
	if (spf_explanation(s) != NULL)
		printf("explanation %s\n", spf_explanation(s));
	printf("mechanism %s\nwhy %s\nqueries %u\n", spf_mechanism(s),
	       spf_why(s), queries);
	spf_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	struct spfzone *z = spfzone_new();
	struct check c = { .now = 0 };
	char *line = NULL;
	size_t cap = 0;
	int rc;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: spftool < scenario\n");
		return 2;
	}
	if (z == NULL)
		return 1;
	while (getline(&line, &cap, stdin) > 0) {
		const char *why = "bad check line";

		rc = line[0] == '=' ? check_line(&c, line) : spfzone_add(z, line, &why);
		if (rc < 0) {
			fprintf(stderr, "spftool: %s: %s", why, line);
			free(line);
			spfzone_free(z);
			return 1;
		}
	}
	free(line);
	rc = run(z, &c);
	spfzone_free(z);
	return rc;
}
