/* store/drop_env.c: the envelope of a drop file, written and read. */
#include "autoconf.h"

#include "store/drop_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append "KEY VALUE\n" for a mailbox; -1 (EINVAL) when it does not fit a
 * line. */
static int put_mailbox(FILE *f, char key, const struct addr_mailbox *mb)
{
	char text[ADDR_TEXT_SIZE];
	size_t n = addr_mailbox_text(mb, text, sizeof(text));

	if (n == 0 || n + 3 > DROP_ENV_LINE_MAX) {
		errno = EINVAL;
		return -1;
	}
	fprintf(f, "%c %s\n", key, text);
	return 0;
}

int drop_env_format(const struct drop_env *env, char **text_r,
		    size_t *len_r)
{
	FILE *f;
	int rc = 0;

	*text_r = NULL;
	*len_r = 0;
	if (env->n_rcpts == 0) {
		errno = EINVAL;
		return -1;
	}
	f = open_memstream(text_r, len_r);
	if (f == NULL)
		return -1;
	fprintf(f, "%s\nB %cBIT\n", DROP_ENV_MAGIC, env->eightbit ? '8' : '7');
	if (env->has_sender && env->null_sender)
		fputs("S <>\n", f);
	else if (env->has_sender)
		rc = put_mailbox(f, 'S', &env->sender);
	for (size_t i = 0; rc == 0 && i < env->n_rcpts; i++)
		rc = put_mailbox(f, 'R', &env->rcpts[i]);
	fputs("\n", f);
	if (fclose(f) != 0 || rc < 0) {
		int e = rc < 0 ? EINVAL : errno;

		free(*text_r);
		*text_r = NULL;
		errno = e;
		return -1;
	}
	return 0;
}

/* A mailbox value: always with a domain. */
static bool parse_mailbox(const char *v, size_t len, struct addr_mailbox *mb)
{
	return addr_parse_mailbox(v, len, ADDR_OPT_UTF8, mb, NULL) == 0;
}

static const char *add_rcpt(struct drop_env *env, const char *v, size_t len)
{
	struct addr_mailbox mb, *grown;

	if (!parse_mailbox(v, len, &mb))
		return "a recipient is not an address";
	grown = realloc(env->rcpts, (env->n_rcpts + 1) * sizeof(*grown));
	if (grown == NULL)
		return "out of memory";
	env->rcpts = grown;
	env->rcpts[env->n_rcpts++] = mb;
	return NULL;
}

/* One line after the version: its key, a blank and its value. */
static const char *field(struct drop_env *env, const char *line, size_t len)
{
	const char *v = line + 2;
	size_t vl = len - 2;

	if (len < 3 || line[1] != ' ')
		return "a line is not a field";
	switch (line[0]) {
	case 'S':
		if (env->has_sender)
			return "two senders";
		env->has_sender = true;
		if (vl == 2 && memcmp(v, "<>", 2) == 0)
			env->null_sender = true;
		else if (!parse_mailbox(v, vl, &env->sender))
			return "the sender is not an address";
		return NULL;
	case 'R':
		return add_rcpt(env, v, vl);
	case 'B':
		if (vl != 4 || (v[0] != '7' && v[0] != '8') ||
		    memcmp(v + 1, "BIT", 3) != 0)
			return "an unknown body type";
		env->eightbit = v[0] == '8';
		return NULL;
	default:
		return "an unknown field";
	}
}

int drop_env_parse(const char *text, size_t len, struct drop_env *env,
		   const char **why_r)
{
	size_t pos = 0;
	const char *why = NULL;

	memset(env, 0, sizeof(*env));
	while (why == NULL) {
		size_t room = len - pos < DROP_ENV_LINE_MAX ? len - pos
							    : DROP_ENV_LINE_MAX;
		const char *nl = memchr(text + pos, '\n', room);
		size_t ll;

		if (nl == NULL) {
			if (room == DROP_ENV_LINE_MAX)
				why = "a line is too long";
			else if (len >= DROP_ENV_MAX)
				why = "the envelope is too long";
			else
				break;
			continue;
		}
		ll = (size_t)(nl - (text + pos));
		if (pos == 0) {
			if (ll != strlen(DROP_ENV_MAGIC) ||
			    memcmp(text, DROP_ENV_MAGIC, ll) != 0)
				why = "not a drop file (no version line)";
		} else if (ll == 0) {
			env->len = pos + 1;
			if (env->n_rcpts > 0)
				return 1;
			why = "no recipient";
			continue;
		} else {
			why = field(env, text + pos, ll);
		}
		pos += ll + 1;
	}
	if (why == NULL) {
		drop_env_free(env);
		return 0;
	}
	*why_r = why;
	drop_env_free(env);
	return -1;
}

void drop_env_free(struct drop_env *env)
{
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}
