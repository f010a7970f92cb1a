/* tests/orgdomaintool.c: common/auth/orgdomain's answers for
 * tests/e2e_orgdomain_oracle.py, a line each for the lines of standard
 * input: for "NAME", "NAME<TAB>ORG", its Organizational Domain (ORG "-"
 * for a name that is no domain name); for "ID FROM", "ID FROM<TAB>R S",
 * whether ID aligns with FROM in relaxed (R) and strict (S) mode, 1 or 0.
 * The list is the first argument, or the default one. */
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
		char *from;

		line[strcspn(line, "\r\n")] = '\0';
		from = strchr(line, ' ');
		if (from != NULL) {
			*from++ = '\0';
			printf("%s %s\t%d %d\n", line, from,
			       orgdomain_aligned(od, line, from, false),
			       orgdomain_aligned(od, line, from, true));
			continue;
		}
		if (orgdomain_get(od, line, org) < 0)
			strcpy(org, "-");
		printf("%s\t%s\n", line, org);
	}
	orgdomain_free(od);
	return ferror(stdout) ? 1 : 0;
}
