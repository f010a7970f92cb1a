/* admin/prompt.c: reading a new password from a no-echo prompt or stdin —
 * never from the command line, where ps(1) and shell history would show it. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "admin/admin.h"

#define PASSWORD_MAX 1024

/* One line from f without its line end; NULL at EOF or on error. */
static char *read_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);

	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static void wipe(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static char *prompt_noecho(const char *prompt)
{
	struct termios old, quiet;
	char *line;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) < 0)
		return NULL;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	line = read_line(stdin);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return line;
}

char *admin_read_password(void)
{
	char *pw, *again;

	if (isatty(STDIN_FILENO)) {
		pw = prompt_noecho("New password: ");
		again = pw != NULL ? prompt_noecho("Again: ") : NULL;
		if (pw == NULL || again == NULL || strcmp(pw, again) != 0) {
			fprintf(stderr, "kantorpos: the passwords differ\n");
			wipe(pw);
			wipe(again);
			return NULL;
		}
		wipe(again);
	} else {
		pw = read_line(stdin);
		if (pw == NULL) {
			fprintf(stderr, "kantorpos: no password on standard input\n");
			return NULL;
		}
	}
	if (pw[0] == '\0' || strlen(pw) > PASSWORD_MAX) {
		fprintf(stderr, "kantorpos: a password must have 1 to %d characters\n",
			PASSWORD_MAX);
		wipe(pw);
		return NULL;
	}
	return pw;
}

char *admin_read_secret(const char *prompt)
{
	char *pw = isatty(STDIN_FILENO) ? prompt_noecho(prompt)
					: read_line(stdin);

	if (pw == NULL || pw[0] == '\0' || strlen(pw) > PASSWORD_MAX) {
		fprintf(stderr, "kantorpos: no password given\n");
		wipe(pw);
		return NULL;
	}
	return pw;
}
