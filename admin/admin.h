/* admin/admin.h: what the files of the kantorpos admin tool share — the
 * command context and one entry point per command. Each command returns a
 * process exit status (sysexits(3) values where they fit). main.c
 * dispatches to the commands; what they share is context.c, runas.c,
 * prompt.c and stdin_message.c, so that no command depends on main.c. */
#ifndef KANTORPOS_ADMIN_ADMIN_H
#define KANTORPOS_ADMIN_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/* Exit statuses, as sysexits(3) defines them. */
enum {
	ADM_OK = 0,
	ADM_USAGE = 64,    /* EX_USAGE: bad command line */
	ADM_DATAERR = 65,  /* EX_DATAERR: bad input data (an address) */
	ADM_NOUSER = 67,   /* EX_NOUSER: no such local user */
	ADM_SOFTWARE = 70, /* EX_SOFTWARE: internal error */
	ADM_OSERR = 71,    /* EX_OSERR: the system failed us */
	ADM_CANTCREAT = 73,/* EX_CANTCREAT: cannot write a file */
	ADM_IOERR = 74,    /* EX_IOERR: read or write error */
	ADM_TEMPFAIL = 75, /* EX_TEMPFAIL: try again later */
	ADM_NOPERM = 77,   /* EX_NOPERM: refused (permanent over-quota) */
	ADM_CONFIG = 78,   /* EX_CONFIG: the configuration is wrong */
};

struct admin {
	const char *config_path;
	struct config *cfg; /* loaded by admin_config() on first use */
};

/* Load the configuration once; prints every error and returns NULL when it
 * cannot be used. */
struct config *admin_config(struct admin *adm);

/* Commands: argv[0] is the command name. */
int admin_cmd_user(struct admin *adm, int argc, char **argv);
int admin_cmd_deliver(struct admin *adm, int argc, char **argv);
int admin_cmd_check(struct admin *adm, int argc, char **argv);
int admin_cmd_queue(struct admin *adm, int argc, char **argv);
int admin_cmd_etrn(struct admin *adm, int argc, char **argv);
int admin_cmd_fetch(struct admin *adm, int argc, char **argv);
int admin_cmd_dkim(struct admin *adm, int argc, char **argv);
int admin_cmd_dns(struct admin *adm, int argc, char **argv);

/* Started as root (any of the real, effective or saved uids 0): become
 * cfg->run_as (common/base/privdrop.h), so that every file the command opens
 * from here on is opened with the daemons' rights and everything it
 * creates is theirs. Not root: nothing happens. Root without run_as (or
 * without cfg): an error when store (the command works on DATA), nothing
 * otherwise. Call it right after admin_config, before anything is read or
 * written and before threads are started. Returns 0, or -1 after printing
 * why; then the command must exit. */
int admin_run_as(const struct config *cfg, bool store);

/* True when argv holds -h or --help (after the command name). */
bool admin_wants_help(int argc, char **argv);

/* Read a new password: from a no-echo prompt (asked twice) when standard
 * input is a terminal, else the first line of standard input. Never from
 * argv. Returns a heap string the caller wipes and frees, or NULL after
 * printing why. */
char *admin_read_password(void);

/* Read an existing secret (a remote password): one no-echo prompt on a
 * terminal, else the first line of standard input. Returns a heap string
 * the caller wipes and frees, or NULL after printing why. */
char *admin_read_secret(const char *prompt);

#endif
