/* pipeline/sender.c: sender ownership, the MAIL FROM rules and the strict
 * From: address-list reader they use. */
#include "autoconf.h"

#include "pipeline/sender.h"

#include <string.h>
#include <strings.h>

#include "common/lookup/aliases.h"
#include "common/config/config.h"

/* Is key an alias of al? Then *owned_r says whether login is its only
 * final target. */
static bool alias_owned(const struct aliases *al, const char *key,
			const char *login, bool *owned_r)
{
	const char *const *targets;
	size_t n = al != NULL ? aliases_lookup(al, key, &targets) : 0;

	if (n == 0)
		return false;
	*owned_r = n == 1 && strcmp(targets[0], login) == 0;
	return true;
}

bool sender_owned_by(const char *login, const struct addr_mailbox *mb,
		     const struct aliases *al, const char *delims)
{
	char key[ADDR_KEY_SIZE], base_key[ADDR_KEY_SIZE];
	struct addr_mailbox base = *mb;
	const char *tag = NULL;
	bool owned = false;

	if (login == NULL || addr_key(mb, key, sizeof(key), NULL) < 0)
		return false;
	/* Split the local part, never the domain (which may hold a '-'). */
	base.local[addr_subaddress(mb->local, delims, &tag)] = '\0';
	if (tag != NULL && addr_key(&base, base_key, sizeof(base_key), NULL) < 0)
		return false;
	if (alias_owned(al, key, login, &owned) ||
	    (tag != NULL && alias_owned(al, base_key, login, &owned)))
		return owned;
	return strcmp(key, login) == 0 ||
	       (tag != NULL && strcmp(base_key, login) == 0);
}

enum sender_verdict sender_check_mail(const struct sender_ctx *c,
				      const struct addr_path *path)
{
	const struct addr_mailbox *mb = &path->mailbox;

	if (c->login != NULL) {
		if (path->flags & ADDR_PATH_NULL)
			return SENDER_NULL_AUTH;
		return sender_owned_by(c->login, mb, c->al,
				       c->cfg->recipient_delimiter)
			       ? SENDER_OK : SENDER_NOT_OWNED;
	}
	if ((path->flags & ADDR_PATH_NULL) || (mb->flags & ADDR_MB_LITERAL) ||
	    c->cfg->local_sender_policy == CONFIG_LOCAL_SENDER_ALLOW ||
	    config_find_domain(c->cfg, mb->domain) == NULL ||
	    config_client_trusted(c->cfg, c->peer))
		return SENDER_OK;
	return SENDER_LOCAL_UNAUTH;
}

bool sender_local_allowed(const struct config *cfg, const char *name,
			  unsigned long uid, unsigned long daemon_uid,
			  const char *sender)
{
	size_t n = strlen(name);
	const char *at = strrchr(sender, '@');

	if (uid == 0 || uid == daemon_uid || config_sendmail_trusted(cfg, name))
		return true;
	/* The own address: the name as it is, the domain in any case. */
	return at != NULL && (size_t)(at - sender) == n &&
	       strncmp(sender, name, n) == 0 &&
	       strcasecmp(at + 1, cfg->sendmail_domain) == 0;
}

/* ---- the From: address list (RFC 5322 §3.2-3.4) ---- */

struct reader {
	const char *s;
	size_t len, pos;
	bool bad;
	const struct sender_ctx *c;
	size_t mailboxes;
	bool all_owned;
};

static int peek(const struct reader *r)
{
	return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

/* atext, and UTF-8 (RFC 6532 §3.2). */
static bool is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80 ||
	       (c > 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* CFWS: blanks and (nested) comments with quoted-pairs. */
static void skip_cfws(struct reader *r)
{
	size_t depth = 0;

	while (r->pos < r->len) {
		int c = peek(r);

		if (depth > 0 && c == '\\')
			r->pos++;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t')
			return;
		r->pos++;
	}
	if (depth > 0 || r->pos > r->len)
		r->bad = true;
	r->pos = r->len;
}

/* A quoted-string at pos (its opening quote); false when unterminated. */
static bool skip_quoted(struct reader *r)
{
	for (r->pos++; r->pos < r->len; r->pos++) {
		int c = peek(r);

		if (c == '\\')
			r->pos++;
		else if (c == '"')
			break;
		else if (c < 0x20 && c != '\t')
			return false;
	}
	if (r->pos >= r->len)
		return false;
	r->pos++;
	return true;
}

/* Text of dot-atom characters (or "[...]" for a literal) at pos. */
static void skip_dot_atom(struct reader *r)
{
	while (is_atext(peek(r)) || peek(r) == '.')
		r->pos++;
}

/* An addr-spec without CFWS inside, at pos: checked as a mailbox and
 * counted. False (pos unchanged) when pos holds none. */
static bool addr_spec(struct reader *r)
{
	size_t start = r->pos;
	struct addr_mailbox mb;

	if (peek(r) == '"') {
		if (!skip_quoted(r))
			goto none;
	} else {
		skip_dot_atom(r);
	}
	if (r->pos == start || peek(r) != '@')
		goto none;
	r->pos++;
	if (peek(r) == '[') {
		const char *end = memchr(r->s + r->pos, ']', r->len - r->pos);

		if (end == NULL)
			goto none;
		r->pos = (size_t)(end - r->s) + 1;
	} else {
		skip_dot_atom(r);
	}
	if (addr_parse_mailbox(r->s + start, r->pos - start, ADDR_OPT_UTF8, &mb,
			       NULL) < 0)
		goto none;
	r->mailboxes++;
	if (!sender_owned_by(r->c->login, &mb, r->c->al,
			     r->c->cfg->recipient_delimiter))
		r->all_owned = false;
	return true;
none:
	r->pos = start;
	return false;
}

/* One word of a display name: atom, quoted-string or "." (obs-phrase). */
static bool phrase_word(struct reader *r)
{
	skip_cfws(r);
	if (peek(r) == '"') {
		if (!skip_quoted(r))
			r->bad = true;
		return !r->bad;
	}
	if (!is_atext(peek(r)) && peek(r) != '.')
		return false;
	skip_dot_atom(r);
	return true;
}

/* Does an address end here (before "," or ";" of a group, or the end)? */
static bool at_end_of_address(struct reader *r, bool in_group)
{
	skip_cfws(r);
	return peek(r) == -1 || peek(r) == ',' || (in_group && peek(r) == ';');
}

static bool address(struct reader *r, bool in_group);

/* group = display-name ":" [mailbox-list] ";" — after the ':'. */
static bool group_rest(struct reader *r)
{
	skip_cfws(r);
	if (peek(r) == ';') {
		r->pos++;
		return true;
	}
	for (;;) {
		if (!address(r, true))
			return false;
		skip_cfws(r);
		if (peek(r) == ';') {
			r->pos++;
			return true;
		}
		if (peek(r) != ',')
			return false;
		r->pos++;
	}
}

/* mailbox / group at pos, then the end of the address. */
static bool address(struct reader *r, bool in_group)
{
	size_t words = 0;

	skip_cfws(r);
	/* "a@b <c@d>" is no address: an addr-spec ends the address. */
	if (addr_spec(r))
		return at_end_of_address(r, in_group);
	while (phrase_word(r))
		words++;
	skip_cfws(r);
	if (r->bad)
		return false;
	if (peek(r) == '<') {
		r->pos++;
		if (!addr_spec(r) || peek(r) != '>')
			return false;
		r->pos++;
		return at_end_of_address(r, in_group);
	}
	if (peek(r) == ':' && !in_group && words > 0) {
		r->pos++;
		return group_rest(r) && at_end_of_address(r, false);
	}
	return false;
}

bool sender_from_owned(const struct sender_ctx *c, const char *value,
		       size_t len)
{
	struct reader r = { value, len, 0, false, c, 0, true };

	if (c->login == NULL)
		return false;
	for (;;) {
		if (!address(&r, false) || r.bad)
			return false;
		if (peek(&r) == -1)
			break;
		r.pos++; /* the ',' */
	}
	return r.mailboxes > 0 && r.all_owned;
}
