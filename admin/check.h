/* admin/check.h: what the files of `kantorpos check` share — the list of
 * findings (check_report.c) and one entry point per concern:
 *   check_files.c  owners and modes, user db, data directories, aliases,
 *                  fetch and etrn_request password files, log_file, the
 *                  DNSSEC trust anchor (the checks made as run_as)
 *   check_tls.c    tls_cert and tls_key
 *   check_dkim.c   the dkim_sign keys (made as run_as)
 *   check_net.c    listen addresses and the host names to resolve
 * check_cmd.c runs them, as run_as where the daemons would be, and prints.
 *
 * A finding is "FILE:LINE: error|warning: text": FILE:LINE is the
 * configuration line that names the thing (or the line of the user db or
 * aliases file that is wrong); LINE 0 means the whole file. */
#ifndef KANTORPOS_ADMIN_CHECK_H
#define KANTORPOS_ADMIN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;

enum check_severity { CHECK_ERROR, CHECK_WARNING };

struct check_finding {
	enum check_severity sev;
	char *file;
	unsigned line;
	char *text; /* one line: control characters are replaced by '?' */
};

/* Findings in the order they were made. */
struct check_report {
	struct check_finding *v;
	size_t n, cap;
	size_t errors, warnings;
	long users; /* users in the user db; -1 not known (start with -1) */
	bool oom;   /* a finding was lost; reported as an error */
};

/* Add one finding (never fails: out of memory sets r->oom). */
void check_add(struct check_report *r, enum check_severity sev,
	       const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Add every line of text, each "NAME:LINE: reason" or "NAME: reason" as
 * the config, user db and aliases loaders write them, keeping the location
 * and putting the severity after it. A line without the NAME prefix is
 * kept whole, located at NAME. */
void check_add_lines(struct check_report *r, enum check_severity sev,
		     const char *name, const char *text);

/* The finding as printed, without a newline, into buf (always ends). */
void check_format(const struct check_finding *f, char *buf, size_t size);

/* The last line: "FILE: ok (N users)", "FILE: ok with 1 warning (N
 * users)" or "FILE: 2 errors, 1 warning". */
void check_summary(const struct check_report *r, const char *file,
		   char *buf, size_t size);

/* Findings from a child process: check_write puts every finding of r and
 * its user count on fd (returns 0 or -1 with errno); check_parse adds the
 * findings held in len bytes of that text to r and takes the count
 * (returns 0, or -1 when the text is cut or malformed: what parsed is
 * kept). Pure apart from the write. */
int check_write(int fd, const struct check_report *r);
int check_parse(struct check_report *r, const char *text, size_t len);

void check_report_free(struct check_report *r);

/* The checks made as the account the daemons run as (the process's own
 * when it is not root); sets r->users unless the user db cannot be read.
 * dropped: the process left root for run_as, so the TLS files are also
 * tried for the daemons' reload (SIGHUP). */
void check_files(struct check_report *r, const struct config *cfg,
		 bool dropped);
/* The dkim_sign keys read as the daemons read them on a reload, by the
 * account the process runs as (named `who` in the findings): readable,
 * RSA (1024 to 4096 bits) or Ed25519. */
void check_dkim(struct check_report *r, const struct config *cfg,
		const char *who);
/* Owners and modes, as the daemons check them at start (as root). */
void check_safety(struct check_report *r, const struct config *cfg);
/* The certificate chain and key, as the daemons load them at start. */
void check_tls(struct check_report *r, const struct config *cfg);
/* Listen addresses (bound and released) and host names (resolved). */
void check_net(struct check_report *r, const struct config *cfg);

/* Which of n directories (their st_dev, in order) lies on another file
 * system than the first: its index, or 0 when all share one. Pure. */
size_t check_other_fs(const dev_t *devs, size_t n);

#endif
