/* tests/test_address.c: mailbox and path parsing, mailbox keys, traversal
 * refusal and subaddresses. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mail/address.h"

#define LEN(s) (sizeof(s) - 1)

/* A heap string of n copies of c. */
static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* "aaa…@bbb.bbb…" with a local part of llen octets and a domain of dlen
 * octets made of labels of at most 63 octets. */
static char *make_addr(size_t llen, size_t dlen)
{
	char *s = malloc(llen + 1 + dlen + 1), *p;

	cr_assert_not_null(s);
	memset(s, 'a', llen);
	s[llen] = '@';
	p = s + llen + 1;
	for (size_t i = 0; i < dlen; i++)
		p[i] = (i % 63 == 62 && i != dlen - 1) ? '.' : 'b';
	p[dlen] = '\0';
	return s;
}

struct valid_row {
	const char *in;
	unsigned opts;
	const char *local;
	const char *domain;
	unsigned flags;
	const char *key; /* NULL: key refused */
};

static const struct valid_row valid_rows[] = {
	{ "alice@example.org", 0, "alice", "example.org", 0, "alice@example.org" },
	{ "Alice.B@Example.ORG", 0, "Alice.B", "Example.ORG", 0,
	  "alice.b@example.org" },
	{ "\"a b\"@x.example", 0, "a b", "x.example", ADDR_MB_QUOTED,
	  "a b@x.example" },
	{ "\"a\\\"b\"@x", 0, "a\"b", "x", ADDR_MB_QUOTED, "a\"b@x" },
	{ "\"alice\"@x", 0, "alice", "x", ADDR_MB_QUOTED, "alice@x" },
	{ "user@[192.0.2.1]", 0, "user", "[192.0.2.1]", ADDR_MB_LITERAL,
	  "user@[192.0.2.1]" },
	{ "user@[IPv6:2001:db8::1]", 0, "user", "[IPv6:2001:db8::1]",
	  ADDR_MB_LITERAL, "user@[ipv6:2001:db8::1]" },
	{ "user+tag@example.org", 0, "user+tag", "example.org", 0,
	  "user+tag@example.org" },
	{ "PostMaster@example.test", 0, "PostMaster", "example.test",
	  ADDR_MB_POSTMASTER, "postmaster@example.test" },
	{ "x@a-b.c0", 0, "x", "a-b.c0", 0, "x@a-b.c0" },
	{ "D\xc3\xb6rte@B\xc3\xbc" "cher.example", ADDR_OPT_UTF8,
	  "D\xc3\xb6rte", "B\xc3\xbc" "cher.example", ADDR_MB_UTF8,
	  "d\xc3\xb6rte@b\xc3\xbc" "cher.example" },
	{ "\"d\xc3\xb6 rte\"@x", ADDR_OPT_UTF8, "d\xc3\xb6 rte", "x",
	  ADDR_MB_UTF8 | ADDR_MB_QUOTED, "d\xc3\xb6 rte@x" },
	{ "!#$%&'*+-=?^_`{|}~@x", 0, "!#$%&'*+-=?^_`{|}~", "x", 0,
	  "!#$%&'*+-=?^_`{|}~@x" },
	{ "a/b@x", 0, "a/b", "x", 0, NULL },
};

Test(address, valid_mailboxes)
{
	for (size_t i = 0; i < sizeof(valid_rows) / sizeof(valid_rows[0]); i++) {
		const struct valid_row *r = &valid_rows[i];
		struct addr_mailbox mb;
		struct addr_error err = { 0 };
		char key[ADDR_KEY_SIZE];
		const char *why = NULL;

		cr_assert_eq(addr_parse_mailbox(r->in, strlen(r->in), r->opts,
						&mb, &err), 0,
			     "%s: %s", r->in, err.why);
		cr_assert_str_eq(mb.local, r->local, "%s", r->in);
		cr_assert_str_eq(mb.domain, r->domain, "%s", r->in);
		cr_assert_eq(mb.flags, r->flags, "%s: flags %#x", r->in, mb.flags);
		if (r->key != NULL) {
			cr_assert_eq(addr_key(&mb, key, sizeof(key), &why), 0,
				     "%s: %s", r->in, why);
			cr_assert_str_eq(key, r->key);
		} else {
			cr_assert_eq(addr_key(&mb, key, sizeof(key), &why), -1,
				     "%s", r->in);
		}
	}
}

struct invalid_row {
	const char *in;
	size_t len; /* 0: strlen */
	unsigned opts;
	enum addr_part part;
	const char *why;
};

static const struct invalid_row invalid_rows[] = {
	{ "a b@x", 0, 0, ADDR_ERR_LOCAL, "unquoted space in local part" },
	{ "alice", 0, 0, ADDR_ERR_LOCAL, "missing @domain" },
	{ "alice@", 0, 0, ADDR_ERR_DOMAIN, "missing domain" },
	{ "@x", 0, 0, ADDR_ERR_LOCAL, "empty local part" },
	{ "", 0, 0, ADDR_ERR_LOCAL, "empty local part" },
	{ "a..b@x", 0, 0, ADDR_ERR_LOCAL, "two dots in a row in local part" },
	{ "a.@x", 0, 0, ADDR_ERR_LOCAL, "local part ends with a dot" },
	{ ".a@x", 0, 0, ADDR_ERR_LOCAL, "local part starts with a dot" },
	{ "a@x..y", 0, 0, ADDR_ERR_DOMAIN, "two dots in a row in domain" },
	{ "a@x.", 0, 0, ADDR_ERR_DOMAIN, "domain ends with a dot" },
	{ "a@.x", 0, 0, ADDR_ERR_DOMAIN, "domain starts with a dot" },
	{ "al\0ice@x", LEN("al\0ice@x"), 0, ADDR_ERR_LOCAL,
	  "NUL character in address" },
	{ "alice@x\0y", LEN("alice@x\0y"), 0, ADDR_ERR_DOMAIN,
	  "NUL character in address" },
	{ "al\rice@x", 0, 0, ADDR_ERR_LOCAL, "CR or LF in address" },
	{ "alice@x\r\n", 0, 0, ADDR_ERR_DOMAIN, "CR or LF in address" },
	{ "a\x01@x", 0, 0, ADDR_ERR_LOCAL, "control character in address" },
	{ "\"a\x7f\"@x", 0, 0, ADDR_ERR_LOCAL, "control character in address" },
	{ "\"a\\\x01\"@x", 0, 0, ADDR_ERR_LOCAL, "control character in address" },
	{ "alice@exa_mple.test", 0, 0, ADDR_ERR_DOMAIN, "underscore in domain" },
	{ "alice@_dmarc.test", 0, 0, ADDR_ERR_DOMAIN, "underscore in domain" },
	{ "a@-x.y", 0, 0, ADDR_ERR_DOMAIN,
	  "domain label starts or ends with a hyphen" },
	{ "a@x-.y", 0, 0, ADDR_ERR_DOMAIN,
	  "domain label starts or ends with a hyphen" },
	{ "a@[1.2.3]", 0, 0, ADDR_ERR_DOMAIN, "invalid address literal" },
	{ "a@[300.1.1.1]", 0, 0, ADDR_ERR_DOMAIN, "invalid address literal" },
	{ "a@[1.2.3.4", 0, 0, ADDR_ERR_DOMAIN, "unterminated address literal" },
	{ "a@[IPv6:zz::1]", 0, 0, ADDR_ERR_DOMAIN,
	  "invalid IPv6 address literal" },
	{ "a@[IPv6:1.2.3.4]", 0, 0, ADDR_ERR_DOMAIN,
	  "invalid IPv6 address literal" },
	{ "a@[x-tag:foo]", 0, 0, ADDR_ERR_DOMAIN, "invalid address literal" },
	{ "a@[1.2.3.4]x", 0, 0, ADDR_ERR_DOMAIN, "invalid character in domain" },
	{ "victim@elsewhere.test@example.test", 0, 0, ADDR_ERR_DOMAIN,
	  "more than one @ in address" },
	{ "D\xc3\xb6rte@x", 0, 0, ADDR_ERR_UTF8,
	  "non-ASCII address without SMTPUTF8" },
	{ "a@b\xc3\xbc" "cher", 0, 0, ADDR_ERR_UTF8,
	  "non-ASCII address without SMTPUTF8" },
	{ "\xc0\xaf@x", 0, ADDR_OPT_UTF8, ADDR_ERR_UTF8,
	  "invalid UTF-8 in address" },
	{ "a\xed\xa0\x80@x", 0, ADDR_OPT_UTF8, ADDR_ERR_UTF8,
	  "invalid UTF-8 in address" },
	{ "a\xc3@x", 0, ADDR_OPT_UTF8, ADDR_ERR_UTF8, "invalid UTF-8 in address" },
	{ "\"unterminated@x", 0, 0, ADDR_ERR_LOCAL,
	  "unterminated quoted local part" },
	{ "\"a\"b@x", 0, 0, ADDR_ERR_LOCAL, "invalid character in local part" },
	{ "a(b)@x", 0, 0, ADDR_ERR_LOCAL, "invalid character in local part" },
	{ "a@x y", 0, 0, ADDR_ERR_DOMAIN, "invalid character in domain" },
	{ "<a@x>", 0, 0, ADDR_ERR_LOCAL, "invalid character in local part" },
};

Test(address, invalid_mailboxes)
{
	for (size_t i = 0; i < sizeof(invalid_rows) / sizeof(invalid_rows[0]);
	     i++) {
		const struct invalid_row *r = &invalid_rows[i];
		size_t len = r->len != 0 ? r->len : strlen(r->in);
		struct addr_mailbox mb;
		struct addr_error err = { 0 };

		cr_assert_eq(addr_parse_mailbox(r->in, len, r->opts, &mb, &err),
			     -1, "row %zu accepted", i);
		cr_assert_str_eq(err.why, r->why, "row %zu", i);
		cr_assert_eq(err.part, r->part, "row %zu: part %d", i, err.part);
	}
}

/* RFC 5321 §4.5.3.1: accept exactly the limits, refuse one more. */
Test(address, length_limits)
{
	struct {
		size_t llen, dlen;
		int rc;
		const char *why;
	} rows[] = {
		{ 64, 20, 0, NULL },
		{ 65, 20, -1, "local part longer than 64 octets" },
		{ 20, 255, 0, NULL },
		{ 20, 256, -1, "domain longer than 255 octets" },
		{ 64, 255, 0, NULL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *a = make_addr(rows[i].llen, rows[i].dlen);
		struct addr_mailbox mb;
		struct addr_error err = { 0 };

		cr_assert_eq(addr_parse_mailbox(a, strlen(a), 0, &mb, &err),
			     rows[i].rc, "row %zu: %s", i, err.why);
		if (rows[i].why != NULL)
			cr_assert_str_eq(err.why, rows[i].why);
		else
			cr_assert_eq(strlen(mb.domain), rows[i].dlen);
		free(a);
	}

	char buf[600];
	struct addr_path p;
	struct addr_error err = { 0 };

	/* Labels: 63 octets fine, 64 refused. */
	char *l63 = rep('c', 63), *l64 = rep('c', 64);

	snprintf(buf, sizeof(buf), "a@%s.example", l63);
	cr_assert_eq(addr_parse_mailbox(buf, strlen(buf), 0, &p.mailbox, &err), 0);
	snprintf(buf, sizeof(buf), "a@%s.example", l64);
	cr_assert_eq(addr_parse_mailbox(buf, strlen(buf), 0, &p.mailbox, &err), -1);
	cr_assert_str_eq(err.why, "domain label longer than 63 octets");
	free(l63);
	free(l64);

	/* Quoted: 64 octets including the quotes, then 65. */
	char *q62 = rep('q', 62), *q63 = rep('q', 63);

	snprintf(buf, sizeof(buf), "\"%s\"@x", q62);
	cr_assert_eq(addr_parse_mailbox(buf, strlen(buf), 0, &p.mailbox, &err), 0);
	cr_assert_eq(strlen(p.mailbox.local), 62);
	snprintf(buf, sizeof(buf), "\"%s\"@x", q63);
	cr_assert_eq(addr_parse_mailbox(buf, strlen(buf), 0, &p.mailbox, &err), -1);
	cr_assert_str_eq(err.why, "local part longer than 64 octets");
	free(q62);
	free(q63);

	/* A 2-octet UTF-8 character that would end at octet 65. */
	char *u63 = rep('u', 63);

	snprintf(buf, sizeof(buf), "%s\xc3\xa9@x", u63);
	cr_assert_eq(addr_parse_mailbox(buf, strlen(buf), ADDR_OPT_UTF8,
					&p.mailbox, &err), -1);
	cr_assert_str_eq(err.why, "local part longer than 64 octets");
	free(u63);
}

Test(address, path_length_limit)
{
	/* "<" + 64 + "@" + 189 + ">" = 256 octets: accepted; one more: not. */
	char *ok = make_addr(64, 189), *over = make_addr(64, 190);
	char buf[400];
	struct addr_path p;
	struct addr_error err = { 0 };

	snprintf(buf, sizeof(buf), "<%s>", ok);
	cr_assert_eq(strlen(buf), 256);
	cr_assert_eq(addr_parse_path(buf, strlen(buf), 0, &p, &err), 0, "%s",
		     err.why);
	snprintf(buf, sizeof(buf), "<%s>", over);
	cr_assert_eq(addr_parse_path(buf, strlen(buf), 0, &p, &err), -1);
	cr_assert_str_eq(err.why, "path longer than 256 octets");
	cr_assert_eq(err.part, ADDR_ERR_PATH);
	free(ok);
	free(over);
}

struct path_row {
	const char *in;
	size_t len;
	unsigned opts;
	int rc;
	unsigned flags;
	const char *local;
	const char *domain;
	const char *rest;
	const char *why;
};

static const struct path_row path_rows[] = {
	{ "<>", 0, 0, 0, ADDR_PATH_NULL, "", "", "", NULL },
	{ "<> SIZE=10", 0, 0, 0, ADDR_PATH_NULL, "", "", "SIZE=10", NULL },
	{ " <alice@example.test>", 0, 0, 0, 0, "alice", "example.test", "", NULL },
	{ "<alice@example.test> SIZE=100 BODY=8BITMIME", 0, 0, 0, 0, "alice",
	  "example.test", "SIZE=100 BODY=8BITMIME", NULL },
	{ "<alice@example.test>  ", 0, 0, 0, 0, "alice", "example.test", "",
	  NULL },
	{ "<@relay.example,@r2.example:alice@example.test>", 0, 0, 0,
	  ADDR_PATH_ROUTE, "alice", "example.test", "", NULL },
	{ "<@example.test:victim@elsewhere.test>", 0, 0, 0, ADDR_PATH_ROUTE,
	  "victim", "elsewhere.test", "", NULL },
	{ "<@[192.0.2.1]:a@b>", 0, 0, 0, ADDR_PATH_ROUTE, "a", "b", "", NULL },
	{ "<postmaster>", 0, ADDR_OPT_POSTMASTER, 0, ADDR_PATH_BARE_POSTMASTER,
	  "postmaster", "", "", NULL },
	{ "<PostMaster> NOTIFY=NEVER", 0, ADDR_OPT_POSTMASTER, 0,
	  ADDR_PATH_BARE_POSTMASTER, "PostMaster", "", "NOTIFY=NEVER", NULL },
	{ "<\"a>b\"@x.example>", 0, 0, 0, 0, "a>b", "x.example", "", NULL },
	{ "<\"victim@elsewhere.test\"@example.test>", 0, 0, 0, 0,
	  "victim@elsewhere.test", "example.test", "", NULL },
	{ "<victim%elsewhere.test@example.test>", 0, 0, 0, 0,
	  "victim%elsewhere.test", "example.test", "", NULL },
	{ "<postmaster>", 0, 0, -1, 0, NULL, NULL, NULL, "missing @domain" },
	{ "alice@example.test", 0, 0, -1, 0, NULL, NULL, NULL,
	  "address must be enclosed in <>" },
	{ "", 0, 0, -1, 0, NULL, NULL, NULL, "address must be enclosed in <>" },
	{ "<alice@example.test", 0, 0, -1, 0, NULL, NULL, NULL,
	  "missing > after address" },
	{ "<alice@example.test>x", 0, 0, -1, 0, NULL, NULL, NULL,
	  "unexpected text after >" },
	{ "<alice@example.test>\r", 0, 0, -1, 0, NULL, NULL, NULL,
	  "CR or LF in address" },
	{ "<a b@x>", 0, 0, -1, 0, NULL, NULL, NULL,
	  "unquoted space in local part" },
	{ "<al\0ice@example.test>", LEN("<al\0ice@example.test>"), 0, -1, 0,
	  NULL, NULL, NULL, "NUL character in address" },
	{ "<alice@exa_mple.test>", 0, 0, -1, 0, NULL, NULL, NULL,
	  "underscore in domain" },
	{ "<@a_b.example:x@y>", 0, 0, -1, 0, NULL, NULL, NULL,
	  "underscore in domain" },
	{ "<@a.example;x@y>", 0, 0, -1, 0, NULL, NULL, NULL,
	  "invalid character in domain" },
	{ "<@a.example,x@y>", 0, 0, -1, 0, NULL, NULL, NULL,
	  "invalid source route" },
	{ "<@a.example", 0, 0, -1, 0, NULL, NULL, NULL,
	  "unterminated source route" },
	{ "<@a.example:>", 0, 0, -1, 0, NULL, NULL, NULL, "empty local part" },
	{ "<a.>", 0, 0, -1, 0, NULL, NULL, NULL, "local part ends with a dot" },
	{ "<victim@elsewhere.test.>", 0, 0, -1, 0, NULL, NULL, NULL,
	  "domain ends with a dot" },
	{ "<victim@elsewhere.test@example.test>", 0, 0, -1, 0, NULL, NULL,
	  NULL, "more than one @ in address" },
	{ "<a@b>", 1, 0, -1, 0, NULL, NULL, NULL, "empty local part" },
};

Test(address, paths)
{
	for (size_t i = 0; i < sizeof(path_rows) / sizeof(path_rows[0]); i++) {
		const struct path_row *r = &path_rows[i];
		size_t len = r->len != 0 ? r->len : strlen(r->in);
		struct addr_path p;
		struct addr_error err = { 0 };
		int rc = addr_parse_path(r->in, len, r->opts, &p, &err);

		cr_assert_eq(rc, r->rc, "row %zu (%s): %s", i, r->in, err.why);
		if (rc < 0) {
			cr_assert_str_eq(err.why, r->why, "row %zu", i);
			continue;
		}
		cr_assert_eq(p.flags, r->flags, "row %zu: flags %#x", i, p.flags);
		cr_assert_str_eq(p.mailbox.local, r->local, "row %zu", i);
		cr_assert_str_eq(p.mailbox.domain, r->domain, "row %zu", i);
		cr_assert_eq(p.rest_len, strlen(r->rest), "row %zu", i);
		cr_assert(memcmp(p.rest, r->rest, p.rest_len) == 0, "row %zu", i);
		cr_assert_eq(p.rest + p.rest_len, r->in + len,
			     "row %zu: rest points into the input", i);
	}
}

Test(address, utf8_path_needs_flag)
{
	const char *in = "<j\xc3\xb6rg@example.test>";
	struct addr_path p;
	struct addr_error err = { 0 };

	cr_assert_eq(addr_parse_path(in, strlen(in), 0, &p, &err), -1);
	cr_assert_eq(err.part, ADDR_ERR_UTF8);
	cr_assert_eq(addr_parse_path(in, strlen(in), ADDR_OPT_UTF8, &p, &err), 0);
	cr_assert(p.mailbox.flags & ADDR_MB_UTF8);
}

/* Names that could leave DATA/mail/<domain>/<local>: refused at parse time
 * or by the key. */
struct traversal_row {
	const char *in;
	int parse_rc;
	const char *why;
};

static const struct traversal_row traversal_rows[] = {
	{ "../x@d", -1, "local part starts with a dot" },
	{ ".x@d", -1, "local part starts with a dot" },
	{ "x/../../y@d", -1, "two dots in a row in local part" },
	{ "a/b@d", 0, "slash or backslash in name" },
	{ "x@../d", -1, "domain starts with a dot" },
	{ "x@d/e", -1, "invalid character in domain" },
	{ "\"a/b\"@d", 0, "slash or backslash in name" },
	{ "\"a\\\\b\"@d", 0, "slash or backslash in name" },
	{ "\"../../tmp/x\"@d", 0, "name starts with a dot" },
	{ "\"..\"@d", 0, "name starts with a dot" },
	{ "\".\"@d", 0, "name starts with a dot" },
	{ "\".alice\"@d", 0, "name starts with a dot" },
	{ "\"\"@d", 0, "empty name" },
	{ "x@[IPv6:::1]/", -1, "invalid character in domain" },
};

Test(address, traversal_refused)
{
	for (size_t i = 0;
	     i < sizeof(traversal_rows) / sizeof(traversal_rows[0]); i++) {
		const struct traversal_row *r = &traversal_rows[i];
		struct addr_mailbox mb;
		struct addr_error err = { 0 };
		char key[ADDR_KEY_SIZE];
		const char *why = NULL;
		int rc = addr_parse_mailbox(r->in, strlen(r->in), ADDR_OPT_UTF8,
					    &mb, &err);

		cr_assert_eq(rc, r->parse_rc, "%s: %s", r->in, err.why);
		if (rc < 0) {
			cr_assert_str_eq(err.why, r->why, "%s", r->in);
		} else {
			cr_assert_eq(addr_key(&mb, key, sizeof(key), &why), -1,
				     "%s gave key %s", r->in, key);
			cr_assert_str_eq(why, r->why, "%s", r->in);
		}
		cr_assert_eq(addr_key_from_string(r->in, key, sizeof(key), &why),
			     -1, "%s", r->in);
	}
}

Test(address, lookalike_is_its_own_mailbox)
{
	/* U+2215 DIVISION SLASH is not "/": a different, harmless name. */
	char key[ADDR_KEY_SIZE];
	const char *why = NULL;

	cr_assert_eq(addr_key_from_string("a\xe2\x88\x95" "b@D", key,
					  sizeof(key), &why), 0, "%s", why);
	cr_assert_str_eq(key, "a\xe2\x88\x95" "b@d");
}

Test(address, component_check)
{
	struct {
		const char *s;
		size_t len;
		const char *why; /* NULL: safe */
	} rows[] = {
		{ "alice", 0, NULL },
		{ "example.org", 0, NULL },
		{ "[ipv6:::1]", 0, NULL },
		{ "b\xc3\xbc" "cher", 0, NULL },
		{ "", 0, "empty name" },
		{ ".", 0, "name starts with a dot" },
		{ "..", 0, "name starts with a dot" },
		{ ".hidden", 0, "name starts with a dot" },
		{ "a/b", 0, "slash or backslash in name" },
		{ "a\\b", 0, "slash or backslash in name" },
		{ "a\x7f", 0, "control character in name" },
		{ "a\tb", 0, "control character in name" },
		{ "a\nb", 0, "control character in name" },
		{ "a\0b", 3, "NUL character in name" },
		{ "\xc0\xaf", 0, "invalid UTF-8 in name" },
		{ "a\xff", 0, "invalid UTF-8 in name" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].s);
		const char *why = NULL;
		bool ok = addr_component_safe_n(rows[i].s, len, &why);

		cr_assert_eq(ok, rows[i].why == NULL, "row %zu", i);
		if (rows[i].why != NULL)
			cr_assert_str_eq(why, rows[i].why, "row %zu", i);
	}
	char *big = rep('x', 256);

	cr_assert(!addr_component_safe(big, NULL));
	big[255] = '\0';
	cr_assert(addr_component_safe(big, NULL));
	free(big);
}

Test(address, subaddress)
{
	struct {
		const char *local, *delims;
		size_t base;
		const char *tag;
	} rows[] = {
		{ "user+tag", "+", 4, "tag" },
		{ "user", "+", 4, NULL },
		{ "+tag", "+", 4, NULL },
		{ "user+", "+", 4, "" },
		{ "a-b+c", "+-", 1, "b+c" },
		{ "user+tag", "", 8, NULL },
		{ "user+tag", NULL, 8, NULL },
		{ "user+a+b", "+", 4, "a+b" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *tag = "unset";
		size_t n = addr_subaddress(rows[i].local, rows[i].delims, &tag);

		cr_assert_eq(n, rows[i].base, "row %zu", i);
		if (rows[i].tag == NULL)
			cr_assert_null(tag, "row %zu", i);
		else
			cr_assert_str_eq(tag, rows[i].tag, "row %zu", i);
	}
}

Test(address, key_buffer_too_small)
{
	struct addr_mailbox mb;
	char key[8];
	const char *why = NULL;

	cr_assert_eq(addr_parse_mailbox("alice@example.org", 17, 0, &mb, NULL), 0);
	cr_assert_eq(addr_key(&mb, key, sizeof(key), &why), -1);
	cr_assert_str_eq(why, "address too long");
}

/* addr_mailbox_text gives back what addr_parse_mailbox reads as the same
 * mailbox; a buffer too small gives 0. */
Test(address, mailbox_text_round_trip)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{ "alice@example.org", "alice@example.org" },
		{ "First.Last+tag@Example.ORG", "First.Last+tag@Example.ORG" },
		{ "\"john doe\"@example.org", "\"john doe\"@example.org" },
		{ "\"a\\\"b\\\\c\"@example.org", "\"a\\\"b\\\\c\"@example.org" },
		{ "\"plain\"@example.org", "\"plain\"@example.org" },
		{ "u@[192.0.2.1]", "u@[192.0.2.1]" },
		{ "j\xc3\xb6rg@b\xc3\xbc.example", "j\xc3\xb6rg@b\xc3\xbc.example" },
	};
	char buf[ADDR_TEXT_SIZE];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct addr_mailbox mb, again;
		size_t n;

		cr_assert_eq(addr_parse_mailbox(rows[i].in, strlen(rows[i].in),
						ADDR_OPT_UTF8, &mb, NULL), 0,
			     "row %zu", i);
		n = addr_mailbox_text(&mb, buf, sizeof(buf));
		cr_assert_eq(n, strlen(rows[i].out), "row %zu", i);
		cr_assert_str_eq(buf, rows[i].out, "row %zu", i);
		cr_assert_eq(addr_parse_mailbox(buf, n, ADDR_OPT_UTF8, &again,
						NULL), 0, "row %zu", i);
		cr_assert_str_eq(again.local, mb.local, "row %zu", i);
		cr_assert_str_eq(again.domain, mb.domain, "row %zu", i);
		cr_assert_eq(addr_mailbox_text(&mb, buf, n), 0, "row %zu", i);
		cr_assert_eq(addr_mailbox_text(&mb, buf, n + 1), n, "row %zu", i);
	}
}
