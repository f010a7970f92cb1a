/* admin/check_files.c: the file checks of `kantorpos check` — owners and
 * modes (common/config/safety), and, as the account the daemons run as: the user
 * db read and parsed, data_dir, mail/ and queue/ written to and on one file
 * system, the aliases parsed with every local target resolved, the fetch,
 * etrn_request and relayhost password files read as `kantorpos fetch`,
 * `kantorpos etrn` and the queue runner read them, log_file opened as the
 * daemons reopen it, and the DNSSEC trust anchor read and parsed as the
 * resolver reads it. */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/check.h"
#include "common/mail/address.h"
#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/base/log.h"
#include "common/lookup/recipient.h"
#include "common/config/safety.h"
#include "common/config/secret.h"
#include "common/dns/dns.h"
#include "common/users/userdb.h"

/* What the checks of one run share. */
struct files_ctx {
	struct check_report *r;
	const struct config *cfg;
	struct safety_owner me; /* the account the checks run as */
};

size_t check_other_fs(const dev_t *devs, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (devs[i] != devs[0])
			return i;
	return 0;
}

static void safety_one(const struct safety_item *item, void *arg)
{
	struct files_ctx *c = arg;
	char msg[1024];

	/* Password files are judged where they are read (check_secrets),
	 * by the same rule, so they are not reported twice. */
	if (item->kind == SAFETY_SECRET)
		return;
	if (safety_check_path(item->kind, item->path, &c->me, msg,
			      sizeof(msg)) < 0)
		check_add(c->r, CHECK_ERROR, c->cfg->file, item->line, "%s", msg);
}

void check_safety(struct check_report *r, const struct config *cfg)
{
	struct files_ctx c = { .r = r, .cfg = cfg };
	char msg[512];

	if (safety_owner_for(cfg, &c.me, msg, sizeof(msg)) < 0) {
		check_add(r, CHECK_ERROR, cfg->file, config_line(cfg, "run_as"),
			  "%s", msg);
		return;
	}
	safety_each_path(cfg, safety_one, &c);
}

/* "; fix: ..." for a file the account cannot read (what "r") or write
 * ("w"), when one is clear: its owner, else its owner's bit. */
static void access_fix(const struct files_ctx *c, const char *path,
		       const char *what, char *buf, size_t size)
{
	struct stat st;

	buf[0] = '\0';
	if (stat(path, &st) < 0)
		return;
	if (st.st_uid != c->me.uid)
		snprintf(buf, size, "; fix: chown %s %s", c->me.name, path);
	else
		snprintf(buf, size, "; fix: chmod u+%s %s", what, path);
}

/* 0 when the account can open path for reading, else -1 with errno. */
static int can_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static void unreadable(const struct files_ctx *c, enum check_severity sev,
		       const char *keyword, const char *path, const char *why)
{
	char fix[PATH_MAX + 64];
	int saved = errno;

	if (saved == ENOENT) {
		check_add(c->r, sev, c->cfg->file, config_line(c->cfg, keyword),
			  "%s %s: %s%s", keyword, path, strerror(saved), why);
		return;
	}
	access_fix(c, path, "r", fix, sizeof(fix));
	check_add(c->r, sev, c->cfg->file, config_line(c->cfg, keyword),
		  "%s %s cannot be read by %s: %s%s%s", keyword, path,
		  c->me.name, strerror(saved), why, fix);
}

/* The user db, or an empty one when it does not exist yet; NULL when it
 * cannot be read (reported). */
static struct userdb *check_userdb(const struct files_ctx *c)
{
	const struct config *cfg = c->cfg;
	struct userdb *db = NULL;

	if (userdb_open(cfg->user_db, &db) == 0) {
		for (size_t i = 0; i < userdb_warning_count(db); i++)
			check_add_lines(c->r, CHECK_ERROR, cfg->user_db,
					userdb_warning(db, i));
		return db;
	}
	if (errno != ENOENT) {
		unreadable(c, CHECK_ERROR, "user_db", cfg->user_db, "");
		return NULL;
	}
	check_add(c->r, CHECK_WARNING, cfg->file, config_line(cfg, "user_db"),
		  "user_db %s does not exist yet: nobody can log in or receive "
		  "mail; fix: kantorpos user add ADDRESS", cfg->user_db);
	if (userdb_parse(cfg->user_db, "", 0, &db) < 0)
		return NULL;
	return db;
}

/* Create and remove a file in dir, as a delivery would. */
static int probe_write(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/.kantorpos-check.%ld", dir,
		     (long)getpid()) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -1;
	close(fd);
	return unlink(path);
}

/* The nearest existing directory at or above path into buf, with its
 * stat; -1 with errno when none can be looked at. */
static int existing_dir(const char *path, char *buf, size_t size,
			struct stat *st)
{
	char *slash;

	if (snprintf(buf, size, "%s", path) >= (int)size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	while (stat(buf, st) < 0) {
		if (errno != ENOENT || (slash = strrchr(buf, '/')) == NULL)
			return -1;
		if (slash == buf)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	return 0;
}

static void not_writable(const struct files_ctx *c, const char *dir,
			 unsigned line)
{
	if (errno == EROFS)
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "%s is not writable: its file system is mounted "
			  "read-only", dir);
	else if (errno == EACCES || errno == EPERM)
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "%s is not writable by %s (creating a file: %s); "
			  "fix: chown -R %s %s", dir, c->me.name,
			  strerror(errno), c->me.name, dir);
	else
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "%s is not writable by %s (creating a file: %s)",
			  dir, c->me.name, strerror(errno));
}

/* One of data_dir, mail/, queue/: writable, or creatable when missing.
 * What it reports sets *quiet, and a directory that cannot be made or
 * looked at is not reported again while *quiet (data_dir said it). Its
 * file system (or that of the directory it will be made in) goes to
 * *dev_r. Returns 0, or -1 when there is nothing to compare. */
static int check_dir(const struct files_ctx *c, const char *dir, bool *quiet,
		     dev_t *dev_r)
{
	unsigned line = config_line(c->cfg, "data_dir");
	char at[PATH_MAX];
	struct stat st;

	if (existing_dir(dir, at, sizeof(at), &st) < 0) {
		if (!*quiet)
			check_add(c->r, CHECK_ERROR, c->cfg->file, line,
				  "%s cannot be looked at by %s: %s", dir,
				  c->me.name, strerror(errno));
		*quiet = true;
		return -1;
	}
	*dev_r = st.st_dev;
	if (!S_ISDIR(st.st_mode)) {
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "%s is not a directory", at);
		*quiet = true;
		return -1;
	}
	if (strcmp(at, dir) != 0) {
		/* The daemons create it (mkdir -p) on first use. */
		if (*quiet || access(at, W_OK | X_OK) == 0)
			return 0;
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "%s does not exist, and %s cannot create it in %s: %s",
			  dir, c->me.name, at, strerror(errno));
		*quiet = true;
		return 0;
	}
	if (probe_write(dir) < 0) {
		not_writable(c, dir, line);
		*quiet = true;
	}
	return 0;
}

static void check_data_dirs(const struct files_ctx *c)
{
	const char *data = c->cfg->data_dir;
	char paths[3][PATH_MAX];
	dev_t devs[3];
	size_t other, n = 0;
	bool quiet = false;

	snprintf(paths[0], sizeof(paths[0]), "%s", data);
	snprintf(paths[1], sizeof(paths[1]), "%s/mail", data);
	snprintf(paths[2], sizeof(paths[2]), "%s/queue", data);
	/* A data_dir that cannot be written to (or made) is reported once,
	 * not again for the subdirectories that cannot be made in it. */
	for (size_t i = 0; i < 3; i++)
		n += check_dir(c, paths[i], &quiet, &devs[i]) == 0;
	if (n < 3 || (other = check_other_fs(devs, 3)) == 0)
		return;
	check_add(c->r, CHECK_WARNING, c->cfg->file,
		  config_line(c->cfg, "data_dir"),
		  "%s is on another file system than %s: a message moved "
		  "between them is copied, not hard-linked; fix: keep data_dir "
		  "on one file system", paths[other],
		  other == 1 ? paths[0] : paths[1]);
}

/* Each target written in the aliases file: another alias, or a local
 * user by the one resolver (user, subaddress, catch-all). */
static void check_alias_targets(const struct files_ctx *c,
				const struct aliases *al, struct userdb *db)
{
	for (size_t i = 0; i < aliases_count(al); i++) {
		const char *const *targets, *const *final;
		unsigned line;
		size_t n;
		const char *key = aliases_entry(al, i, &line, &targets, &n);

		for (size_t t = 0; t < n; t++) {
			struct addr_mailbox mb;
			struct rcpt_target where;
			const char *why = "not a valid address";
			enum rcpt_status st = RCPT_ERROR;

			if (aliases_lookup(al, targets[t], &final) > 0)
				continue;
			if (addr_parse_mailbox(targets[t], strlen(targets[t]),
					       ADDR_OPT_UTF8, &mb, NULL) == 0)
				st = rcpt_resolve(c->cfg, db, &mb, &where, &why);
			if (st == RCPT_LOCAL)
				continue;
			if (st == RCPT_ERROR)
				check_add(c->r, CHECK_ERROR, c->cfg->aliases,
					  line, "alias %s: target %s: %s", key,
					  targets[t], why);
			else
				check_add(c->r, CHECK_ERROR, c->cfg->aliases,
					  line,
					  "alias %s: target %s is no local user "
					  "(not in the user db, no alias, no "
					  "catchall); fix: kantorpos user add %s",
					  key, targets[t], targets[t]);
		}
	}
}

static void check_aliases(const struct files_ctx *c, struct userdb *db)
{
	const struct config *cfg = c->cfg;
	struct aliases *al = NULL;
	char *err = NULL;

	if (cfg->aliases == NULL)
		return;
	if (can_read(cfg->aliases) < 0) {
		unreadable(c, CHECK_ERROR, "aliases", cfg->aliases, "");
		return;
	}
	if (aliases_load(cfg->aliases, cfg, &al, &err) < 0) {
		if (err == NULL)
			check_add(c->r, CHECK_ERROR, cfg->aliases, 0,
				  "out of memory");
		check_add_lines(c->r, CHECK_ERROR, cfg->aliases, err);
		free(err);
		return;
	}
	if (db != NULL)
		check_alias_targets(c, al, db);
	aliases_free(al);
}

/* Read one password file as kantorpos fetch, kantorpos etrn and the
 * queue runner do (common/config/secret.c); what names it leads the
 * finding. */
static void check_secret(const struct files_ctx *c, const char *path,
			 unsigned line, const char *what)
{
	char err[1024], *pw = NULL;

	if (secret_read(path, c->me.uid, &pw, err, sizeof(err)) < 0) {
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "%s: password_file %s", what, err);
		return;
	}
	secret_free(pw);
}

static void check_secrets(const struct files_ctx *c)
{
	char what[512];

	for (size_t i = 0; i < c->cfg->n_fetch; i++) {
		const struct config_fetch *f = &c->cfg->fetch[i];

		snprintf(what, sizeof(what), "fetch_account %s", f->name);
		check_secret(c, f->password_file, f->line, what);
	}
	for (size_t i = 0; i < c->cfg->n_etrn_requests; i++) {
		const struct config_etrn_request *q = &c->cfg->etrn_requests[i];

		if (q->password_file == NULL)
			continue;
		snprintf(what, sizeof(what), "etrn_request %s %s", q->host,
			 q->domain);
		check_secret(c, q->password_file, q->line, what);
	}
	if (c->cfg->relayhost.host != NULL &&
	    c->cfg->relayhost.password_file != NULL)
		check_secret(c, c->cfg->relayhost.password_file,
			     c->cfg->relayhost.line, "relayhost");
}

/* The directory of path (at least "/") into buf. */
static void dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 0 : (size_t)(slash - path);

	if (slash == NULL)
		snprintf(buf, size, ".");
	else
		snprintf(buf, size, "%.*s", n > 0 ? (int)n : 1, path);
}

/* A log_file that is not there yet: the daemons create it (and after a
 * rotation create it again) as the account of the checks. */
static void check_log_dir(const struct files_ctx *c, const char *path,
			  unsigned line)
{
	char dir[PATH_MAX];
	struct stat st;

	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &st) < 0 && errno == ENOENT)
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "log_file %s: its directory %s does not exist; fix: "
			  "mkdir -p %s && chown %s %s", path, dir, dir,
			  c->me.name, dir);
	else if (access(dir, W_OK | X_OK) < 0)
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "log_file %s does not exist, and %s cannot create it "
			  "in %s: %s; fix: chown %s %s", path, c->me.name, dir,
			  strerror(errno), c->me.name, dir);
}

/* The fix for each refusal of log_open_file. */
static const struct {
	int err;
	const char *fix;
} log_fixes[] = {
	{ ELOOP, "name the file itself in log_file, not a link to it" },
	{ EISDIR, "name a file in log_file, not a directory" },
	{ ENXIO, "name a regular file in log_file" },
	{ EMLINK, "give the log a file of its own: remove this one (the "
		  "daemons create it)" },
};

/* log_file opened for appending by log.c's own rules (not created), as
 * the daemons reopen it after a rotation and kantorpos fetch --daemon
 * opens it: as the account of the checks. */
static void check_log_file(const struct files_ctx *c)
{
	const char *path = c->cfg->log_file, *fix = NULL;
	unsigned line = config_line(c->cfg, "log_file");
	char err[PATH_MAX + 128], hint[PATH_MAX + 64];
	int fd;

	if (path == NULL)
		return;
	if ((fd = log_open_file(path, false, err, sizeof(err))) >= 0) {
		close(fd);
		return;
	}
	if (errno == ENOENT) {
		check_log_dir(c, path, line);
		return;
	}
	if (errno == EACCES || errno == EPERM) {
		access_fix(c, path, "w", hint, sizeof(hint));
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "log_file %s cannot be written by %s: %s%s", path,
			  c->me.name, strerror(errno), hint);
		return;
	}
	for (size_t i = 0; i < sizeof(log_fixes) / sizeof(log_fixes[0]); i++)
		if (log_fixes[i].err == errno)
			fix = log_fixes[i].fix;
	check_add(c->r, CHECK_ERROR, c->cfg->file, line, "%s%s%s", err,
		  fix != NULL ? "; fix: " : "", fix != NULL ? fix : "");
}

/* The daemons load the TLS files as root, but reload them (SIGHUP) after
 * the drop: say so when run_as cannot read them. */
static void check_tls_reload(const struct files_ctx *c)
{
	static const char *const keywords[] = { "tls_cert", "tls_key" };
	const char *paths[] = { c->cfg->tls_cert, c->cfg->tls_key };

	for (size_t i = 0; i < 2; i++)
		if (paths[i] != NULL && can_read(paths[i]) < 0 &&
		    errno != ENOENT)
			unreadable(c, CHECK_WARNING, keywords[i], paths[i],
				   " (the daemons load it as root at start; a "
				   "reload on SIGHUP keeps the old certificate)");
}

/* dns_trust_anchor read and parsed as the resolver takes it, by the
 * account the daemons run as; "none" is allowed, and said to be unsafe. */
static void check_trust_anchor(const struct files_ctx *c)
{
	const char *path = c->cfg->dns_trust_anchor;
	unsigned line = config_line(c->cfg, "dns_trust_anchor");
	const char *hint = line == 0 ? " (the default; fix: apt-get install "
			   "dns-root-data, or set dns_trust_anchor)" : "";
	char err[1024];

	if (path == NULL) {
		check_add(c->r, CHECK_WARNING, c->cfg->file, line,
			  "dns_trust_anchor none: DNS answers are not validated "
			  "(no DNSSEC, no DANE): forged answers go unnoticed");
		return;
	}
	if (can_read(path) < 0) {
		unreadable(c, CHECK_ERROR, "dns_trust_anchor", path, hint);
		return;
	}
	if (dns_check_anchor(path, err, sizeof(err)) < 0)
		check_add(c->r, CHECK_ERROR, c->cfg->file, line,
			  "dns_trust_anchor %s: %s", path, err);
}

void check_files(struct check_report *r, const struct config *cfg,
		 bool dropped)
{
	struct files_ctx c = { .r = r, .cfg = cfg };
	struct userdb *db;

	safety_owner_uid(geteuid(), &c.me);
	db = check_userdb(&c);
	if (db != NULL)
		r->users = (long)userdb_count(db);
	check_data_dirs(&c);
	check_aliases(&c, db);
	check_secrets(&c);
	check_log_file(&c);
	check_trust_anchor(&c);
	if (dropped)
		check_tls_reload(&c);
	check_dkim(r, cfg, c.me.name);
	userdb_free(db);
}
