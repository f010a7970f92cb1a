/* tests/orgdomaintool.c: the Organizational Domain of each name read on
 * standard input, one a line, as "NAME<TAB>ORG" (ORG "-" for a name that
 * is no domain name), for tests/e2e_orgdomain_oracle.py. The list is the
 * first argument, or the default one. */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "common/auth/orgdomain.h"

int main(int argc, char **argv)
{
	char err[256], line[1024], org[ORGDOMAIN_NAME_MAX + 1];
	struct orgdomain *od = orgdomain_load(argc > 1 ? argv[1] : NULL, err,
					      sizeof(err));

	if (od == NULL) {
		fprintf(stderr, "orgdomaintool: %s\n", err);
		return 2;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (orgdomain_get(od, line, org) < 0)
			strcpy(org, "-");
		printf("%s\t%s\n", line, org);
	}
	orgdomain_free(od);
	return ferror(stdout) ? 1 : 0;
}
