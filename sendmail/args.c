/* sendmail/args.c: kantorpos-sendmail's options, parsed by hand: the
 * sendmail(1) ones are single letters whose values may be joined
 * ("-oi", "-FCronDaemon", "-B8BITMIME"). */
#include "autoconf.h"

#include "sendmail/args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

/* Letters that stand alone: taken (t, i) or ignored. */
static const char FLAGS[] = "tivmnUG";
/* Letters that take a value. */
static const char VALUED[] = "BCFNORVbfhLor";

static int usage(struct sm_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* EX_USAGE, with the reason in a->err. */
static int usage(struct sm_args *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return EX_USAGE;
}

/* One option letter with its value (NULL for a flag). */
static int take(struct sm_args *a, char opt, const char *v)
{
	switch (opt) {
	case 't':
		a->extract = true;
		break;
	case 'i':
		a->ignore_dots = true;
		break;
	case 'o': /* -oi is -i; the other sendmail options mean nothing here */
		if (strcmp(v, "i") == 0)
			a->ignore_dots = true;
		break;
	case 'f':
	case 'r':
		a->sender = v;
		break;
	case 'F':
		a->full_name = v;
		break;
	case 'C':
		a->config = v;
		break;
	case 'B':
		if (strcasecmp(v, "7BIT") == 0)
			a->body = SM_BODY_7BIT;
		else if (strcasecmp(v, "8BITMIME") == 0)
			a->body = SM_BODY_8BITMIME;
		else
			return usage(a, "-B %s: expected 7BIT or 8BITMIME", v);
		break;
	case 'b':
		if (strcmp(v, "m") != 0)
			return usage(a, "-b%s: not supported (kantorpos-sendmail "
				     "only sends a message, as -bm)", v);
		break;
	default: /* N R V h L O: accepted and ignored */
		break;
	}
	return 0;
}

/* One argument of bundled letters at argv[*i]; *i moves past a value
 * that was the next argument. */
static int bundle(struct sm_args *a, int argc, char *const *argv, int *i)
{
	const char *p = argv[*i] + 1;

	for (; *p != '\0'; p++) {
		char opt[2] = { *p, '\0' };

		if (strchr(FLAGS, *p) != NULL) {
			take(a, *p, NULL);
			continue;
		}
		if (strchr(VALUED, *p) == NULL)
			return usage(a, "-%s: unknown option", opt);
		if (p[1] != '\0')
			return take(a, *p, p + 1);
		if (*i + 1 >= argc)
			return usage(a, "-%s: expects a value", opt);
		return take(a, *p, argv[++*i]);
	}
	return 0;
}

int sm_args_parse(int argc, char *const *argv, struct sm_args *a)
{
	int i = 1, rc;

	memset(a, 0, sizeof(*a));
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--help") == 0) {
			a->help = true;
			return 0;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if ((rc = bundle(a, argc, argv, &i)) != 0)
			return rc;
	}
	a->rcpts = argv + i;
	a->n_rcpts = (size_t)(argc - i);
	return 0;
}
