/* common/config/safety.c: owner and mode checks of the files kantorpos trusts,
 * with the exact chmod/chown that fixes each problem. */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config/safety.h"

#include "common/config/config_load.h"

/* The rules of one kind. */
struct safety_rule {
	const char *what;   /* "the user database" */
	int dir;            /* 1: must be a directory, 0: a regular file */
	mode_t bad;         /* permission bits that must be clear */
	const char *fix;    /* chmod argument that clears the bad bits */
	int owner_only;     /* 1: owned by the account itself, root won't do */
};

static const struct safety_rule rules[] = {
	[SAFETY_DATA_DIR] = { "the data directory", 1, 022, "go-w", 0 },
	[SAFETY_USER_DB] = { "the user database", 0, 066, "600", 0 },
	[SAFETY_TLS_KEY] = { "the TLS key", 0, 066, "600", 0 },
	[SAFETY_ALIASES] = { "the aliases file", 0, 022, "go-w", 0 },
	/* kantorpos fetch, kantorpos etrn and the queue runner's owners
	 * open these (common/config/secret.c)
	 * and judge what they opened by this same row. */
	[SAFETY_SECRET] = { "the password file", 0, 077, "600", 0 },
	[SAFETY_CONFIG] = { "the configuration file", 0, 022, "go-w", 0 },
	/* Users leave files there and must not find each other's: no
	 * listing, and no removing another's file (sticky). */
	[SAFETY_DROP_DIR] = { "the drop directory", 1, 044, "1733", 1 },
	[SAFETY_DKIM_KEY] = { "the DKIM key", 0, 066, "600", 0 },
};

static const char *who_text(mode_t bits);
static const char *access_text(mode_t bits);
static void add_line(const struct safety_item *item, void *arg);

int safety_owner_for(const struct config *cfg, struct safety_owner *own_r,
		     char *err, size_t errlen)
{
	const struct passwd *pw;
	uid_t uid = geteuid();

	if (uid == 0 && cfg->run_as != NULL && cfg->run_as[0] != '\0') {
		errno = 0;
		pw = getpwnam(cfg->run_as);
		if (pw == NULL) {
			snprintf(err, errlen,
				 "run_as %s: no such user (create it, e.g. "
				 "useradd --system %s)", cfg->run_as,
				 cfg->run_as);
			return -1;
		}
		own_r->uid = pw->pw_uid;
		snprintf(own_r->name, sizeof own_r->name, "%s", pw->pw_name);
		return 0;
	}
	safety_owner_uid(uid, own_r);
	return 0;
}

void safety_owner_uid(uid_t uid, struct safety_owner *own_r)
{
	const struct passwd *pw = getpwuid(uid);

	own_r->uid = uid;
	if (pw != NULL)
		snprintf(own_r->name, sizeof own_r->name, "%s", pw->pw_name);
	else
		snprintf(own_r->name, sizeof own_r->name, "%lu",
			 (unsigned long)uid);
}

int safety_check_path(enum safety_kind kind, const char *path,
		      const struct safety_owner *own, char *err,
		      size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s cannot be checked: %s", path,
			 rules[kind].what, strerror(errno));
		return -1;
	}
	return safety_check_stat(kind, path, &st, own, err, errlen);
}

int safety_check_stat(enum safety_kind kind, const char *path,
		      const struct stat *st, const struct safety_owner *own,
		      char *err, size_t errlen)
{
	const struct safety_rule *r = &rules[kind];
	mode_t bad;
	int owner_bad;
	char owner[128] = "", fix[512] = "";

	if (r->dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: %s is not a %s", path, r->what,
			 r->dir ? "directory" : "regular file");
		return -1;
	}
	owner_bad = st->st_uid != own->uid && (r->owner_only || st->st_uid != 0);
	bad = st->st_mode & r->bad;
	/* Writable by all only with the sticky bit (the check names it as
	 * writable by others). */
	if (kind == SAFETY_DROP_DIR && !(st->st_mode & S_ISVTX))
		bad |= st->st_mode & 022;
	if (!owner_bad && bad == 0)
		return 0;
	if (owner_bad) {
		const struct passwd *pw = getpwuid(st->st_uid);

		snprintf(owner, sizeof owner, "is owned by %s%s%lu%s, not %s%s",
			 pw != NULL ? pw->pw_name : "uid ",
			 pw != NULL ? " (uid " : "", (unsigned long)st->st_uid,
			 pw != NULL ? ")" : "", own->name,
			 own->uid == 0 || r->owner_only ? "" : " or root");
		snprintf(fix, sizeof fix, "chown %s %s", own->name, path);
	}
	if (bad != 0) {
		size_t n = strlen(fix);

		snprintf(fix + n, sizeof fix - n, "%schmod %s %s",
			 n > 0 ? " && " : "", r->fix, path);
	}
	snprintf(err, errlen, "%s: %s %s%s%s%s%s%s (mode %04o); fix: %s", path,
		 r->what, owner, owner_bad && bad ? ", and " : "",
		 bad ? "is " : "", bad ? access_text(bad) : "",
		 bad ? " by " : "", bad ? who_text(bad) : "",
		 (unsigned)(st->st_mode & 07777), fix);
	return -1;
}

void safety_each_path(const struct config *cfg,
		      void (*fn)(const struct safety_item *item, void *arg),
		      void *arg)
{
	const struct {
		enum safety_kind kind;
		const char *path, *keyword;
	} named[] = {
		{ SAFETY_CONFIG, cfg->file, NULL },
		{ SAFETY_DATA_DIR, cfg->data_dir, "data_dir" },
		{ SAFETY_USER_DB, cfg->user_db, "user_db" },
		{ SAFETY_TLS_KEY, cfg->tls_key, "tls_key" },
		{ SAFETY_ALIASES, cfg->aliases, "aliases" },
		{ SAFETY_DROP_DIR, cfg->drop_dir, "drop_dir" },
	};
	struct safety_item item;

	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		if (named[i].path == NULL)
			continue;
		item.kind = named[i].kind;
		item.path = named[i].path;
		item.line = named[i].keyword != NULL
				    ? config_line(cfg, named[i].keyword)
				    : 0;
		fn(&item, arg);
	}
	for (size_t i = 0; i < cfg->n_fetch; i++) {
		if (cfg->fetch[i].password_file == NULL)
			continue;
		item.kind = SAFETY_SECRET;
		item.path = cfg->fetch[i].password_file;
		item.line = cfg->fetch[i].line;
		fn(&item, arg);
	}
	for (size_t i = 0; i < cfg->n_dkim; i++) {
		item.kind = SAFETY_DKIM_KEY;
		item.path = cfg->dkim[i].keyfile;
		item.line = cfg->dkim[i].line;
		fn(&item, arg);
	}
	if (cfg->relayhost.host != NULL && cfg->relayhost.password_file != NULL) {
		item.kind = SAFETY_SECRET;
		item.path = cfg->relayhost.password_file;
		item.line = cfg->relayhost.line;
		fn(&item, arg);
	}
}

/* What add_line needs: the owner, the text and the count of problems. */
struct safety_lines {
	const struct safety_owner *own;
	FILE *out;
	int problems;
};

int safety_check_config(const struct config *cfg, char **err_r)
{
	struct safety_owner own;
	struct safety_lines lines = { .own = &own };
	char msg[1024];
	char *text = NULL;
	size_t len = 0;

	*err_r = NULL;
	lines.out = open_memstream(&text, &len);
	if (lines.out == NULL)
		return -1;
	if (safety_owner_for(cfg, &own, msg, sizeof msg) < 0) {
		fprintf(lines.out, "%s\n", msg);
		lines.problems++;
	} else {
		safety_each_path(cfg, add_line, &lines);
	}
	if (fclose(lines.out) != 0) {
		free(text);
		return -1;
	}
	if (lines.problems == 0) {
		free(text);
		return 0;
	}
	*err_r = text;
	return -1;
}

/* Write the problem of one path as a line. */
static void add_line(const struct safety_item *item, void *arg)
{
	struct safety_lines *lines = arg;
	char msg[1024];

	if (safety_check_path(item->kind, item->path, lines->own, msg,
			      sizeof msg) == 0)
		return;
	fprintf(lines->out, "%s\n", msg);
	lines->problems++;
}

static const char *who_text(mode_t bits)
{
	if ((bits & 070) && (bits & 007))
		return "group and others";
	return (bits & 070) ? "its group" : "others";
}

static const char *access_text(mode_t bits)
{
	if ((bits & 044) && (bits & 022))
		return "readable and writable";
	if (bits & 044)
		return "readable";
	return (bits & 022) ? "writable" : "executable";
}
