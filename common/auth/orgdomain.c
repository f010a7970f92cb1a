/* common/auth/orgdomain.c: the Organizational Domain through libpsl
 * (RFC 7489 §3.1, §3.2). */
#include "autoconf.h"

#include "common/auth/orgdomain.h"

#include <libpsl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct orgdomain {
	psl_ctx_t *psl;
};

struct orgdomain *orgdomain_load(const char *path, char *err, size_t errlen)
{
	struct orgdomain *od;

	if (path == NULL)
		path = ORGDOMAIN_LIST_DEFAULT;
	od = calloc(1, sizeof(*od));
	if (od == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* psl_load_file reads both forms and says nothing about why it
	 * failed: a missing or unreadable file, or not a list. */
	od->psl = psl_load_file(path);
	if (od->psl == NULL) {
		snprintf(err, errlen,
			 "%s: cannot read the Public Suffix List (Debian "
			 "package publicsuffix)", path);
		free(od);
		return NULL;
	}
	return od;
}

void orgdomain_free(struct orgdomain *od)
{
	if (od == NULL)
		return;
	psl_free(od->psl);
	free(od);
}

int orgdomain_normalize(const char *name, char *out)
{
	size_t len = strlen(name), label = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > ORGDOMAIN_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c == 0x7f)
			return -1;
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (++label > 63) {
			return -1;
		}
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	if (label == 0)
		return -1;
	out[len] = '\0';
	return 0;
}

int orgdomain_get(const struct orgdomain *od, const char *name, char *out)
{
	char norm[ORGDOMAIN_NAME_MAX + 1];
	const char *reg;

	if (orgdomain_normalize(name, norm) < 0)
		return -1;
	/* NULL for a name that is a public suffix itself: RFC 7489 §3.2's
	 * step 4 then has no further label, and the name stands for its
	 * own organization. The result points into norm. */
	reg = psl_registrable_domain(od->psl, norm);
	if (reg == NULL)
		reg = norm;
	memcpy(out, reg, strlen(reg) + 1);
	return 0;
}

bool orgdomain_aligned(const struct orgdomain *od, const char *id,
		       const char *from, bool strict)
{
	char a[ORGDOMAIN_NAME_MAX + 1], b[ORGDOMAIN_NAME_MAX + 1];

	if (strict)
		return orgdomain_normalize(id, a) == 0 &&
		       orgdomain_normalize(from, b) == 0 && strcmp(a, b) == 0;
	return orgdomain_get(od, id, a) == 0 &&
	       orgdomain_get(od, from, b) == 0 && strcmp(a, b) == 0;
}
