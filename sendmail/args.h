/* sendmail/args.h: the command line of kantorpos-sendmail, the
 * sendmail(1) interface (Postfix's and Sendmail's options, as scripts,
 * cron and mail clients pass them).
 *
 * Options may be bundled ("-ti") and their values joined or apart ("-f
 * a@b", "-fa@b"); the first argument that is no option, or "--", ends
 * them: the rest are recipients. Taken: -t, -i, -oi, -f/-r SENDER,
 * -F NAME, -B 7BIT|8BITMIME, -C FILE (kantorpos.conf), -bm. Accepted and
 * ignored: -oX... (-oem, -oee, -odi, -odb, -oQ...), -OOPTION, -N DSN,
 * -R RET, -V ENVID, -h HOPS, -L TAG, -v, -m, -n, -U, -G. Refused with
 * EX_USAGE: every other -b mode (-bs, -bp, -bi, ...) and any other
 * option. Pure: no I/O, no globals. */
#ifndef KANTORPOS_SENDMAIL_ARGS_H
#define KANTORPOS_SENDMAIL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* -B: the body type. */
enum sm_body {
	SM_BODY_UNSAID = 0, /* from the content: 8BIT when it has such octets */
	SM_BODY_7BIT,
	SM_BODY_8BITMIME,
};

struct sm_args {
	bool help;              /* --help */
	const char *config;     /* -C; NULL: the default kantorpos.conf */
	bool extract;           /* -t */
	bool ignore_dots;       /* -i, -oi */
	const char *sender;     /* -f, -r; NULL: none */
	const char *full_name;  /* -F; NULL: none */
	enum sm_body body;
	char *const *rcpts;     /* the recipient arguments (into argv) */
	size_t n_rcpts;
	char err[160];          /* why, with EX_USAGE */
};

/* Parse argv[1..argc). Returns 0, or EX_USAGE (sysexits.h) with a->err. */
int sm_args_parse(int argc, char *const *argv, struct sm_args *a);

#endif
