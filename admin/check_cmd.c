/* admin/check_cmd.c: `kantorpos check` — the command: load the configuration,
 * run every check as the daemons would meet it (started as root with
 * run_as set, the file checks run in a child that drops to run_as with
 * common/base/privdrop, and send their findings back over a pipe), print one
 * line per finding and a summary, exit 1 on any error. The checks
 * themselves are in check_files.c, check_tls.c and check_net.c. */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/check.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/base/privdrop.h"

/* What the child may send back: far more than any configuration gives. */
#define CHECK_CHILD_MAX (4u * 1024 * 1024)

static void check_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] check\n"
		"Check the configuration and everything it names, as the daemons\n"
		"would meet it: config errors, owners and modes, the user db, the\n"
		"data directories, the aliases, TLS certificate and key, fetch and\n"
		"etrn_request password files, dkim_sign keys, log_file, the DNSSEC\n"
		"trust anchor, listen addresses and host names. Started as root\n"
		"with run_as set, the files are checked as that user. Prints one\n"
		"line per finding,\n"
		"FILE:LINE: error|warning: text, then a summary; exits 1 on any\n"
		"error, 0 with only warnings.\n");
}

/* Read everything the child writes (keeping at most CHECK_CHILD_MAX, so
 * the child never blocks on a full pipe), then its exit status. */
static void collect_child(struct check_report *r, const struct config *cfg,
			  int fd, pid_t pid)
{
	char *buf = malloc(CHECK_CHILD_MAX), spill[4096];
	size_t len = 0;
	ssize_t n;
	int status = 0, bad = buf == NULL;

	for (;;) {
		bool keep = buf != NULL && len < CHECK_CHILD_MAX;

		n = keep ? read(fd, buf + len, CHECK_CHILD_MAX - len)
			 : read(fd, spill, sizeof(spill));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (keep)
			len += (size_t)n;
		else
			bad = 1;
	}
	close(fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			bad = 1;
			break;
		}
	if (buf != NULL && check_parse(r, buf, len) < 0)
		bad = 1;
	free(buf);
	if (WIFSIGNALED(status))
		check_add(r, CHECK_ERROR, cfg->file, config_line(cfg, "run_as"),
			  "the checks as run_as %s were killed by signal %d",
			  cfg->run_as, WTERMSIG(status));
	else if (bad || WEXITSTATUS(status) != 0)
		check_add(r, CHECK_ERROR, cfg->file, config_line(cfg, "run_as"),
			  "the checks as run_as %s did not finish (exit status "
			  "%d)", cfg->run_as, WEXITSTATUS(status));
}

/* The file checks in a child that has dropped to run_as. */
static void files_as_run_as(struct check_report *r, const struct config *cfg)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0) {
		check_add(r, CHECK_ERROR, cfg->file, config_line(cfg, "run_as"),
			  "cannot start the checks as run_as %s: %s",
			  cfg->run_as, strerror(errno));
		return;
	}
	if ((pid = fork()) < 0) {
		check_add(r, CHECK_ERROR, cfg->file, config_line(cfg, "run_as"),
			  "cannot start the checks as run_as %s: %s",
			  cfg->run_as, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		struct check_report mine = { .users = -1 };
		char err[512];

		close(fds[0]);
		if (privdrop_to(cfg->run_as, true, err, sizeof(err)) < 0)
			check_add(&mine, CHECK_ERROR, cfg->file,
				  config_line(cfg, "run_as"), "%s", err);
		else
			check_files(&mine, cfg, true);
		_exit(check_write(fds[1], &mine) < 0 ? 1 : 0);
	}
	close(fds[1]);
	collect_child(r, cfg, fds[0], pid);
}

/* Print the findings and the summary; the exit status. */
static int report(const struct check_report *r, const char *file)
{
	char line[4096];

	for (size_t i = 0; i < r->n; i++) {
		check_format(&r->v[i], line, sizeof(line));
		printf("%s\n", line);
	}
	if (r->oom)
		printf("%s: error: out of memory: some findings are missing\n",
		       file);
	check_summary(r, file, line, sizeof(line));
	printf("%s\n", line);
	fflush(stdout);
	return r->errors > 0 || r->oom ? 1 : ADM_OK;
}

static void run_checks(struct check_report *r, const struct config *cfg)
{
	bool drop = geteuid() == 0 && cfg->run_as != NULL &&
		    cfg->run_as[0] != '\0';

	check_safety(r, cfg);
	if (!drop)
		check_files(r, cfg, false);
	else if (getpwnam(cfg->run_as) != NULL)
		files_as_run_as(r, cfg);
	/* else: check_safety has said that run_as names no account. */
	check_tls(r, cfg);
	check_net(r, cfg);
}

int admin_cmd_check(struct admin *adm, int argc, char **argv)
{
	struct check_report r = { .users = -1 };
	char *errors = NULL;
	int rc;

	if (admin_wants_help(argc, argv)) {
		check_usage(stdout);
		return ADM_OK;
	}
	if (argc != 1) {
		check_usage(stderr);
		return ADM_USAGE;
	}
	/* Not admin_config: its errors become findings here. */
	adm->cfg = config_load(adm->config_path, &errors);
	if (adm->cfg == NULL) {
		if (errors == NULL)
			check_add(&r, CHECK_ERROR, adm->config_path, 0,
				  "out of memory");
		check_add_lines(&r, CHECK_ERROR, adm->config_path, errors);
		free(errors);
		rc = report(&r, adm->config_path);
	} else {
		run_checks(&r, adm->cfg);
		rc = report(&r, adm->cfg->file);
	}
	check_report_free(&r);
	return rc;
}
