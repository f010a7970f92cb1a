/* common/safety.c: owner and mode checks of the files kantorpos trusts,
 * with the exact chmod/chown that fixes each problem. */
#include "autoconf.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safety.h"

/* The rules of one kind. */
struct safety_rule {
	const char *what;   /* "the user database" */
	int dir;            /* 1: must be a directory, 0: a regular file */
	mode_t bad;         /* permission bits that must be clear */
	int owner_only;     /* 1: owned by the owner itself, root is not enough */
	const char *fix;    /* chmod argument that clears the bad bits */
};

static const struct safety_rule rules[] = {
	[SAFETY_DATA_DIR] = { "the data directory", 1, 022, 0, "go-w" },
	[SAFETY_USER_DB] = { "the user database", 0, 066, 0, "600" },
	[SAFETY_TLS_KEY] = { "the TLS key", 0, 066, 0, "600" },
	[SAFETY_ALIASES] = { "the aliases file", 0, 022, 0, "go-w" },
	/* kantorpos fetch reads these as itself and insists on owning them
	 * (fetch/secrets.c), so root is not an acceptable owner here. */
	[SAFETY_SECRET] = { "the fetch password file", 0, 066, 1, "600" },
	[SAFETY_CONFIG] = { "the configuration file", 0, 022, 0, "go-w" },
};

static const char *who_text(mode_t bits);
static const char *access_text(mode_t bits);
static int add_line(FILE *out, enum safety_kind kind, const char *path,
		    const struct safety_owner *own);

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
	own_r->uid = uid;
	pw = getpwuid(uid);
	if (pw != NULL)
		snprintf(own_r->name, sizeof own_r->name, "%s", pw->pw_name);
	else
		snprintf(own_r->name, sizeof own_r->name, "%lu",
			 (unsigned long)uid);
	return 0;
}

int safety_check_path(enum safety_kind kind, const char *path,
		      const struct safety_owner *own, char *err,
		      size_t errlen)
{
	const struct safety_rule *r = &rules[kind];
	struct stat st;
	mode_t bad;
	int owner_bad;
	char owner[128] = "", fix[512] = "";

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s cannot be checked: %s", path,
			 r->what, strerror(errno));
		return -1;
	}
	if (r->dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a %s", path, r->what,
			 r->dir ? "directory" : "regular file");
		return -1;
	}
	owner_bad = st.st_uid != own->uid &&
		    (r->owner_only || st.st_uid != 0);
	bad = st.st_mode & r->bad;
	if (!owner_bad && bad == 0)
		return 0;
	if (owner_bad) {
		const struct passwd *pw = getpwuid(st.st_uid);

		snprintf(owner, sizeof owner, "is owned by %s%s%lu%s, not %s%s",
			 pw != NULL ? pw->pw_name : "uid ",
			 pw != NULL ? " (uid " : "", (unsigned long)st.st_uid,
			 pw != NULL ? ")" : "", own->name,
			 r->owner_only || own->uid == 0 ? "" : " or root");
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
		 (unsigned)(st.st_mode & 07777), fix);
	return -1;
}

int safety_check_config(const struct config *cfg, char **err_r)
{
	struct safety_owner own;
	char msg[1024];
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int problems = 0;

	*err_r = NULL;
	out = open_memstream(&text, &len);
	if (out == NULL)
		return -1;
	if (safety_owner_for(cfg, &own, msg, sizeof msg) < 0) {
		fprintf(out, "%s\n", msg);
		problems++;
	} else {
		if (cfg->file != NULL)
			problems += add_line(out, SAFETY_CONFIG, cfg->file,
					     &own);
		if (cfg->data_dir != NULL)
			problems += add_line(out, SAFETY_DATA_DIR,
					     cfg->data_dir, &own);
		if (cfg->user_db != NULL)
			problems += add_line(out, SAFETY_USER_DB, cfg->user_db,
					     &own);
		if (cfg->tls_key != NULL)
			problems += add_line(out, SAFETY_TLS_KEY, cfg->tls_key,
					     &own);
		if (cfg->aliases != NULL)
			problems += add_line(out, SAFETY_ALIASES, cfg->aliases,
					     &own);
		for (size_t i = 0; i < cfg->n_fetch; i++)
			if (cfg->fetch[i].password_file != NULL)
				problems += add_line(
					out, SAFETY_SECRET,
					cfg->fetch[i].password_file, &own);
	}
	if (fclose(out) != 0) {
		free(text);
		return -1;
	}
	if (problems == 0) {
		free(text);
		return 0;
	}
	*err_r = text;
	return -1;
}

/* Write the problem of one path as a line; returns 1 if there was one. */
static int add_line(FILE *out, enum safety_kind kind, const char *path,
		    const struct safety_owner *own)
{
	char msg[1024];

	if (safety_check_path(kind, path, own, msg, sizeof msg) == 0)
		return 0;
	fprintf(out, "%s\n", msg);
	return 1;
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
	return (bits & 044) ? "readable" : "writable";
}
