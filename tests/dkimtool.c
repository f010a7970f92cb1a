/* tests/dkimtool.c: sign or check a message file with common/auth's DKIM
 * code, for tests/e2e_dkim_oracle.py:
 *
 *   dkimtool sign KEY.pem DOMAIN SELECTOR simple|relaxed T < msg > signed
 *   dkimtool verify SELECTOR=RECORD... < msg
 *
 * sign prints the message with its new DKIM-Signature field on top (the
 * canonicalization is used for header and body). verify prints one line
 * per DKIM-Signature field, top first: "RESULT d=D s=S reason", using the
 * record given for its selector (none: no key record), checked at the
 * time of its t= (so old examples do not expire). The input's bare LFs
 * become CRLF first. Exit status 0, 1 on errors, 2 for bad usage. Not
 * installed. */
#include "autoconf.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/crlf.h"
#include "common/mail/header.h"
#include "tests/helpers/dkimmsg.h"

struct input {
	char *p;
	size_t n;
};

static int gather(void *arg, const char *buf, size_t len)
{
	struct input *in = arg;
	char *p = realloc(in->p, in->n + len + 1);

	if (p == NULL)
		return 1;
	memcpy(p + in->n, buf, len);
	in->p = p;
	in->n += len;
	p[in->n] = '\0';
	return 0;
}

static int sign(char **argv, const struct input *in)
{
	FILE *f = fopen(argv[2], "r");
	EVP_PKEY *key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) :
				    NULL;
	enum dkim_canon c = strcmp(argv[5], "relaxed") == 0 ?
			    DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	const char *why = "cannot read the key";
	char *field = NULL;

	if (f != NULL)
		fclose(f);
	if (key != NULL)
		field = dkimmsg_sign(in->p, in->n, key, argv[3], argv[4], c, c,
				     NULL, strtoull(argv[6], NULL, 10), &why);
	EVP_PKEY_free(key);
	if (field == NULL) {
		fprintf(stderr, "dkimtool: %s\n", why);
		return 1;
	}
	fputs(field, stdout);
	fwrite(in->p, 1, in->n, stdout);
	free(field);
	return 0;
}

/* The record given for selector s, or NULL. */
static const char *record_for(char **recs, int n, const char *s)
{
	size_t len = strlen(s);

	for (int k = 0; k < n; k++)
		if (strncmp(recs[k], s, len) == 0 && recs[k][len] == '=')
			return recs[k] + len + 1;
	return NULL;
}

static int verify(char **recs, int n, const struct input *in)
{
	size_t body, hlen = dkimmsg_header_len(in->p, in->n, &body), pos = 0;
	struct hdr_field f;
	size_t k = 0;

	while (hdr_next_field(in->p, hlen, &pos, &f)) {
		char d[256] = "", s[256] = "";
		const char *why, *t;
		time_t now = time(NULL);
		enum dkim_result r;

		if (!hdr_name_is(&f, "DKIM-Signature"))
			continue;
		/* the selector first, to pick the record */
		dkimmsg_verify(in->p, in->n, k, NULL, now, &why, d, s);
		t = strstr(f.value, "t=");
		if (t != NULL && t < f.value + f.value_len)
			now = (time_t)strtoll(t + 2, NULL, 10);
		r = dkimmsg_verify(in->p, in->n, k++, record_for(recs, n, s),
				   now, &why, d, s);
		printf("%s d=%s s=%s %s\n", dkim_result_str(r), d, s, why);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct input in = { NULL, 0 };
	int rc;

	if (argc < 2 || (strcmp(argv[1], "sign") == 0 && argc != 7) ||
	    (strcmp(argv[1], "sign") != 0 && strcmp(argv[1], "verify") != 0)) {
		fprintf(stderr, "usage: dkimtool sign KEY.pem DOMAIN SELECTOR "
			"simple|relaxed T < msg\n"
			"       dkimtool verify SELECTOR=RECORD... < msg\n");
		return 2;
	}
	if (crlf_copy_fd(0, gather, &in) != 0 || in.p == NULL) {
		fprintf(stderr, "dkimtool: cannot read the message\n");
		return 1;
	}
	rc = strcmp(argv[1], "sign") == 0 ? sign(argv, &in) :
	     verify(argv + 2, argc - 2, &in);
	free(in.p);
	return rc;
}
