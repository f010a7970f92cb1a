/* admin/user.c: `kantorpos user add|passwd|del|list` — edits of the user
 * database, each under its lock and written atomically
 * (common/users/userdb_edit). */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "admin/admin.h"
#include "common/mail/address.h"
#include "common/config/config.h"
#include "common/users/password.h"
#include "common/users/userdb.h"
#include "common/users/userdb_edit.h"

static void user_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] user add NAME      new user; password from stdin or prompt\n"
		"       kantorpos [-c CONF] user passwd NAME   set a new password\n"
		"       kantorpos [-c CONF] user del NAME      remove the user (the Maildir stays)\n"
		"       kantorpos [-c CONF] user list          print every user\n");
}

/* Check NAME, and that its domain is one of ours. */
static int user_name_ok(const struct config *cfg, const char *name)
{
	char key[ADDR_KEY_SIZE];
	const char *why = NULL;

	if (addr_key_from_string(name, key, sizeof(key), &why) < 0) {
		fprintf(stderr, "kantorpos: %s: %s\n", name, why);
		return ADM_DATAERR;
	}
	if (config_find_domain(cfg, strchr(key, '@') + 1) == NULL) {
		fprintf(stderr,
			"kantorpos: %s: %s is not a local_domain in %s\n", name,
			strchr(key, '@') + 1, cfg->file);
		return ADM_DATAERR;
	}
	return ADM_OK;
}

/* Ask for a password and hash it at the configured cost. */
static int new_hash(const struct config *cfg, char *hash, size_t size)
{
	char *pw = admin_read_password();
	int rc;

	if (pw == NULL)
		return ADM_DATAERR;
	rc = password_hash(pw, strlen(pw), cfg->password_opslimit,
			   (size_t)cfg->password_memlimit, hash, size);
	sodium_memzero(pw, strlen(pw));
	free(pw);
	if (rc < 0) {
		fprintf(stderr, "kantorpos: cannot hash the password: %s\n",
			strerror(errno));
		return ADM_SOFTWARE;
	}
	return ADM_OK;
}

/* Whether the user is in the file, so a command can refuse before it asks
 * for a password (the edit checks again under the lock). Returns 1 or 0, or
 * -1 with errno when the file cannot be read; a missing file has no users. */
static int user_exists(const struct config *cfg, const char *name)
{
	struct userdb *db;
	int found;

	if (userdb_open(cfg->user_db, &db) < 0)
		return errno == ENOENT ? 0 : -1;
	found = userdb_lookup(db, name, NULL);
	userdb_free(db);
	return found;
}

/* The exit status for a failed edit. ENOENT means "no such user" only for
 * passwd and del: for add it can only come from the file system (the
 * directory of the user database is missing). */
static int edit_failed(const struct config *cfg, const char *sub,
		       const char *name, const char *why)
{
	int err = errno, rc = ADM_CANTCREAT;

	if (err == ENOENT && strcmp(sub, "add") != 0)
		rc = ADM_NOUSER;
	else if (err == EEXIST || err == EINVAL)
		rc = ADM_DATAERR;
	if (why != NULL && rc == ADM_CANTCREAT) /* what the system said too */
		fprintf(stderr, "kantorpos: %s: %s: %s: %s\n", cfg->user_db,
			name, why, strerror(err));
	else
		fprintf(stderr, "kantorpos: %s: %s: %s\n", cfg->user_db, name,
			why != NULL ? why : strerror(err));
	return rc;
}

static void print_name(const char *name, void *arg)
{
	(void)arg;
	puts(name);
}

static int user_list(const struct config *cfg)
{
	struct userdb *db;

	if (userdb_open(cfg->user_db, &db) < 0) {
		if (errno == ENOENT)
			return ADM_OK; /* no users yet */
		fprintf(stderr, "kantorpos: %s: %s\n", cfg->user_db,
			strerror(errno));
		return ADM_IOERR;
	}
	for (size_t i = 0; i < userdb_warning_count(db); i++)
		fprintf(stderr, "kantorpos: %s\n", userdb_warning(db, i));
	userdb_list(db, print_name, NULL);
	userdb_free(db);
	return ADM_OK;
}

int admin_cmd_user(struct admin *adm, int argc, char **argv)
{
	char hash[PASSWORD_HASH_SIZE];
	const struct config *cfg;
	const char *sub, *name, *why = NULL;
	int rc;

	if (admin_wants_help(argc, argv)) {
		user_usage(stdout);
		return ADM_OK;
	}
	if (argc < 2) {
		user_usage(stderr);
		return ADM_USAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "list") == 0 && argc == 2) {
		if ((cfg = admin_config(adm)) == NULL)
			return ADM_CONFIG;
		return user_list(cfg);
	}
	if (argc != 3 || (strcmp(sub, "add") != 0 && strcmp(sub, "passwd") != 0 &&
			  strcmp(sub, "del") != 0)) {
		user_usage(stderr);
		return ADM_USAGE;
	}
	name = argv[2];
	if ((cfg = admin_config(adm)) == NULL)
		return ADM_CONFIG;
	if (strcmp(sub, "del") == 0) {
		if (userdb_delete(cfg->user_db, name, &why) < 0)
			return edit_failed(cfg, sub, name, why);
		printf("removed %s (its Maildir is kept)\n", name);
		return ADM_OK;
	}
	if ((rc = user_name_ok(cfg, name)) != ADM_OK)
		return rc;
	/* Refuse before asking for a password that would be thrown away. */
	switch (user_exists(cfg, name)) {
	case -1:
		fprintf(stderr, "kantorpos: %s: %s\n", cfg->user_db,
			strerror(errno));
		return ADM_IOERR;
	case 0:
		if (strcmp(sub, "passwd") == 0) {
			fprintf(stderr, "kantorpos: %s: %s: no such user\n",
				cfg->user_db, name);
			return ADM_NOUSER;
		}
		break;
	default:
		if (strcmp(sub, "add") == 0) {
			fprintf(stderr, "kantorpos: %s: %s already exists\n",
				cfg->user_db, name);
			return ADM_DATAERR;
		}
		break;
	}
	if ((rc = new_hash(cfg, hash, sizeof(hash))) != ADM_OK)
		return rc;
	if (strcmp(sub, "add") == 0)
		rc = userdb_add(cfg->user_db, name, hash, &why);
	else
		rc = userdb_set_hash(cfg->user_db, name, hash, &why);
	if (rc < 0)
		return edit_failed(cfg, sub, name, why);
	printf("%s %s\n", strcmp(sub, "add") == 0 ? "added" : "updated", name);
	return ADM_OK;
}
