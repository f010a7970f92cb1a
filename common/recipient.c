/* common/recipient.c: local recipient resolution (users, subaddresses,
 * catch-all). */
#include "autoconf.h"

#include "common/recipient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/userdb.h"

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
