/* tests/authrestool.c: common/auth/authres for tests/e2e_authres_oracle.py.
 *
 *   authrestool build   lines "id ID", "result METHOD RESULT", "reason
 *                       TEXT", "prop NAME VALUE", "comment TEXT" make a
 *                       field; "end" writes it, then a NUL ("-" and a NUL
 *                       when the builder refused it)
 *   authrestool id      fields separated by NULs, each "Name: value":
 *                       one line each, "ours" or "other" for the id given
 *                       as argv[2], a tab, and the authserv-id read ("-"
 *                       for none) */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth/authres.h"

/* The rest of the line after its first word, and that word cut off. */
static char *rest(char *line)
{
	char *sp = strchr(line, ' ');

	if (sp == NULL)
		return line + strlen(line);
	*sp = '\0';
	return sp + 1;
}

static void build_line(struct authres *ar, char *line)
{
	char *arg = rest(line), *arg2;
	const char *f;
	size_t len;

	if (strcmp(line, "id") == 0) {
		authres_begin(ar, arg);
	} else if (strcmp(line, "result") == 0) {
		arg2 = rest(arg);
		authres_result(ar, arg, arg2);
	} else if (strcmp(line, "reason") == 0) {
		authres_reason(ar, arg);
	} else if (strcmp(line, "prop") == 0) {
		arg2 = rest(arg);
		authres_prop(ar, arg, arg2);
	} else if (strcmp(line, "comment") == 0) {
		authres_comment(ar, arg);
	} else if (strcmp(line, "end") == 0) {
		f = authres_end(ar, &len);
		if (f == NULL)
			fputs("-", stdout);
		else
			fwrite(f, 1, len, stdout);
		fputc('\0', stdout);
	}
}

static int build(void)
{
	static struct authres ar;
	char line[4096];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		build_line(&ar, line);
	}
	return 0;
}

static int ids(const char *ours)
{
	char *field = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getdelim(&field, &cap, '\0', stdin)) > 0) {
		struct hdr_field f;
		size_t pos = 0, len = strlen(field);
		char id[AUTHRES_ID_MAX + 1];

		if (!hdr_next_field(field, len, &pos, &f)) {
			printf("other\t-\n");
			continue;
		}
		if (authres_id_parse(f.value, f.value_len, id) < 0)
			strcpy(id, "-");
		printf("%s\t%s\n", authres_is_ours(&f, ours) ? "ours" : "other", id);
	}
	free(field);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "build") == 0)
		return build();
	if (argc == 3 && strcmp(argv[1], "id") == 0)
		return ids(argv[2]);
	fprintf(stderr, "usage: authrestool build | authrestool id AUTHSERV-ID\n");
	return 2;
}
