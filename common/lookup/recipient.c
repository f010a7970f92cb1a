/* common/lookup/recipient.c: local recipient resolution (users, subaddresses,
 * catch-all). */
#include "autoconf.h"

#include "common/lookup/recipient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/users/userdb.h"

/* 1 when key names a user, 0 when not, -1 on error. */
static int user_exists(struct userdb *db, const char *key)
{
	return userdb_lookup(db, key, NULL);
}

static enum rcpt_status found(struct rcpt_target *target_r, const char *key)
{
	const char *at = strrchr(key, '@');

	snprintf(target_r->key, sizeof(target_r->key), "%s", key);
	snprintf(target_r->local, sizeof(target_r->local), "%.*s",
		 (int)(at - key), key);
	snprintf(target_r->domain, sizeof(target_r->domain), "%s", at + 1);
	return RCPT_LOCAL;
}

enum rcpt_status rcpt_resolve(const struct config *cfg, struct userdb *db,
			      const struct addr_mailbox *mb,
			      struct rcpt_target *target_r, const char **why_r)
{
	const struct config_domain *dom;
	struct addr_mailbox base;
	char key[ADDR_KEY_SIZE];
	const char *tag;
	size_t baselen;
	int rc;

	if (mb->flags & ADDR_MB_LITERAL)
		return RCPT_FOREIGN;
	dom = config_find_domain(cfg, mb->domain);
	if (dom == NULL)
		return RCPT_FOREIGN;
	if (addr_key(mb, key, sizeof(key), why_r) < 0)
		return RCPT_ERROR;
	if ((rc = user_exists(db, key)) != 0)
		return rc > 0 ? found(target_r, key) : RCPT_ERROR;

	baselen = addr_subaddress(mb->local, cfg->recipient_delimiter, &tag);
	if (tag != NULL) {
		base = *mb;
		base.local[baselen] = '\0';
		if (addr_key(&base, key, sizeof(key), why_r) < 0)
			return RCPT_ERROR;
		if ((rc = user_exists(db, key)) != 0)
			return rc > 0 ? found(target_r, key) : RCPT_ERROR;
	}

	if (dom->catchall != NULL) {
		char name[ADDR_KEY_SIZE + 1];

		if (snprintf(name, sizeof(name), "%s@%s", dom->catchall,
			     dom->name) >= (int)sizeof(name) ||
		    addr_key_from_string(name, key, sizeof(key), why_r) < 0) {
			if (why_r != NULL)
				*why_r = "catch-all address is not valid";
			return RCPT_ERROR;
		}
		if ((rc = user_exists(db, key)) != 0)
			return rc > 0 ? found(target_r, key) : RCPT_ERROR;
	}
	return RCPT_UNKNOWN;
}

/* Add t to the list unless its key is there already. */
static int add_target(struct rcpt_target **v, size_t *n,
		      const struct rcpt_target *t)
{
	struct rcpt_target *grown;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].key, t->key) == 0)
			return 0;
	grown = realloc(*v, (*n + 1) * sizeof(**v));
	if (grown == NULL)
		return -1;
	*v = grown;
	(*v)[(*n)++] = *t;
	return 0;
}

/* The final targets of the alias named by mb (its key, then its base
 * without the subaddress), or 0 when it is none. */
static size_t alias_of(const struct config *cfg, const struct aliases *al,
		       const struct addr_mailbox *mb,
		       const char *const **targets_r)
{
	struct addr_mailbox base;
	char key[ADDR_KEY_SIZE];
	const char *tag;
	size_t n, baselen;

	if (al == NULL || addr_key(mb, key, sizeof(key), NULL) < 0)
		return 0;
	if ((n = aliases_lookup(al, key, targets_r)) > 0)
		return n;
	baselen = addr_subaddress(mb->local, cfg->recipient_delimiter, &tag);
	if (tag == NULL)
		return 0;
	base = *mb;
	base.local[baselen] = '\0';
	if (addr_key(&base, key, sizeof(key), NULL) < 0)
		return 0;
	return aliases_lookup(al, key, targets_r);
}

enum rcpt_status rcpt_expand(const struct config *cfg, struct userdb *db,
			     const struct aliases *al,
			     const struct addr_mailbox *mb,
			     struct rcpt_target **targets_r, size_t *n_r,
			     const char **why_r)
{
	const char *const *alias_targets = NULL;
	struct rcpt_target *v = NULL, t;
	enum rcpt_status st;
	size_t n = 0, na;

	*targets_r = NULL;
	*n_r = 0;
	if ((mb->flags & ADDR_MB_LITERAL) ||
	    config_find_domain(cfg, mb->domain) == NULL)
		return RCPT_FOREIGN;
	na = alias_of(cfg, al, mb, &alias_targets);
	if (na == 0) {
		st = rcpt_resolve(cfg, db, mb, &t, why_r);
		if (st != RCPT_LOCAL)
			return st;
		if (add_target(&v, &n, &t) < 0)
			goto oom;
	}
	for (size_t i = 0; i < na; i++) {
		struct addr_mailbox tmb;

		if (addr_parse_mailbox(alias_targets[i], strlen(alias_targets[i]),
				       ADDR_OPT_UTF8, &tmb, NULL) < 0 ||
		    (st = rcpt_resolve(cfg, db, &tmb, &t, why_r)) == RCPT_FOREIGN ||
		    st == RCPT_UNKNOWN) {
			free(v);
			if (why_r != NULL)
				*why_r = "alias target is not a local user";
			return RCPT_ERROR;
		}
		if (st != RCPT_LOCAL) {
			free(v);
			return st;
		}
		if (add_target(&v, &n, &t) < 0)
			goto oom;
	}
	*targets_r = v;
	*n_r = n;
	return RCPT_LOCAL;
oom:
	free(v);
	if (why_r != NULL)
		*why_r = "out of memory";
	return RCPT_ERROR;
}
