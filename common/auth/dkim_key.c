/* common/auth/dkim_key.c: reading a DKIM key record (RFC 6376 §3.6.1). */
#include "autoconf.h"

#include "common/auth/dkim_key.h"

#include <string.h>

#include "common/auth/dkim_tags.h"

static int fail(const char **why_r, const char *why)
{
	*why_r = why;
	return -1;
}

static int parse_flags(const struct dkim_taglist *t, struct dkim_key *key,
		       const char **why_r)
{
	const struct dkim_tag *tag;

	tag = dkim_tags_get(t, "k");
	if (tag == NULL || dkim_tag_is(tag, "rsa"))
		key->type = DKIM_KEY_RSA;
	else if (dkim_tag_is(tag, "ed25519"))
		key->type = DKIM_KEY_ED25519;
	else
		return fail(why_r, "unknown key type");
	tag = dkim_tags_get(t, "h");
	key->sha256 = tag == NULL || dkim_tag_list_has(tag, "sha256");
	tag = dkim_tags_get(t, "s");
	if (tag != NULL && !dkim_tag_list_has(tag, "*") && !dkim_tag_list_has(tag, "email"))
		return fail(why_r, "key not for email");
	tag = dkim_tags_get(t, "t");
	key->testing = tag != NULL && dkim_tag_list_has(tag, "y");
	key->strict = tag != NULL && dkim_tag_list_has(tag, "s");
	return 0;
}

int dkim_key_parse(const char *txt, size_t len, struct dkim_key *key,
		   const char **why_r)
{
	struct dkim_taglist t;
	const struct dkim_tag *tag;

	memset(key, 0, sizeof(*key));
	if (dkim_tags_parse(txt, len, &t, why_r) < 0)
		return -1;
	tag = dkim_tags_get(&t, "v");
	if (tag != NULL && (tag != &t.tag[0] || !dkim_tag_is(tag, "DKIM1")))
		return fail(why_r, "bad key record version");
	if (parse_flags(&t, key, why_r) < 0)
		return -1;
	tag = dkim_tags_get(&t, "p");
	if (tag == NULL)
		return fail(why_r, "key record without p=");
	if (tag->value_len == 0) {
		key->revoked = true;
		return 0;
	}
	if (dkim_tag_b64(tag, key->p, sizeof(key->p), &key->p_len) < 0)
		return fail(why_r, "bad p=");
	return 0;
}
