/* tests/test_sender.c: the sender rules as tables — ownership of an
 * address by a login, the MAIL FROM verdicts (authenticated, local
 * domains, trusted clients), the strict From: address-list reader — and
 * the header scan of submitted mail fed in 1, 2, 7 octet pieces and whole,
 * with the Date and Message-ID it adds. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lookup/aliases.h"
#include "common/config/config.h"
#include "common/config/config_load.h"
#include "pipeline/sender.h"
#include "pipeline/submit.h"
#include "tests/helpers/testutil.h"

static char *dir;
static struct config *cfg;
static struct aliases *al;

static const char CONF[] =
	"data_dir /tmp\nuser_db users\nlocal_domain example.test\n"
	"local_domain my-domain.test\nrecipient_delimiter +-\n";
static const char ALIASES[] =
	"solo: alice\n"
	"team: alice, bob\n"
	"chain: solo\n"
	"alice+bob: bob\n"
	"ceo@my-domain.test: alice@example.test\n";

static struct config *parse(const char *extra)
{
	char *text = NULL, *err = NULL;
	struct config *c;

	cr_assert_geq(asprintf(&text, "%s%s", CONF, extra), 0);
	c = config_parse("t.conf", "/", text, strlen(text), &err);
	cr_assert_not_null(c, "%s", err ? err : "");
	free(text);
	return c;
}

static void setup(void)
{
	char *err = NULL;

	dir = tu_tmpdir();
	cfg = parse("");
	cr_assert_eq(aliases_parse("aliases", ALIASES, strlen(ALIASES), cfg,
				   &al, &err), 0, "%s", err ? err : "");
}

static void teardown(void)
{
	aliases_free(al);
	config_free(cfg);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(sender, .init = setup, .fini = teardown);

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

static struct addr_mailbox mailbox(const char *s)
{
	struct addr_mailbox mb;

	cr_assert_eq(addr_parse_mailbox(s, strlen(s), ADDR_OPT_UTF8, &mb, NULL),
		     0, "%s", s);
	return mb;
}

Test(sender, owned_by_table)
{
	static const struct {
		const char *login, *addr;
		bool owned;
	} rows[] = {
		{ "alice@example.test", "alice@example.test", true },
		/* Case: the domain and the local part compare as keys. */
		{ "alice@example.test", "Alice@EXAMPLE.Test", true },
		{ "alice@example.test", "\"alice\"@example.test", true },
		{ "alice@example.test", "bob@example.test", false },
		{ "alice@example.test", "ceo@bank.example", false },
		{ "alice@example.test", "alice@example.net", false },
		{ "alice@example.test", "alice@[127.0.0.1]", false },
		{ "alice@example.test", "alicex@example.test", false },
		/* Subaddresses, with every delimiter. */
		{ "alice@example.test", "alice+tag@example.test", true },
		{ "alice@example.test", "ALICE-tag@example.test", true },
		{ "alice@example.test", "alice+@example.test", true },
		{ "alice@example.test", "bob+alice@example.test", false },
		{ "alice@example.test", "+alice@example.test", false },
		/* Aliases: owned only when alice is the one final target. */
		{ "alice@example.test", "solo@example.test", true },
		{ "alice@example.test", "solo@my-domain.test", false },
		{ "alice@example.test", "Solo+x@example.test", true },
		/* "-" is a delimiter too: "only" is no alias, no user. */
		{ "alice@example.test", "only-solo@example.test", false },
		{ "alice@example.test", "chain@example.test", true },
		{ "alice@example.test", "team@example.test", false },
		{ "bob@example.test", "team@example.test", false },
		{ "alice@example.test", "ceo@my-domain.test", true },
		/* An alias wins over the subaddress of the user, as delivery. */
		{ "alice@example.test", "alice+bob@example.test", false },
		{ "bob@example.test", "alice+bob@example.test", true },
		/* The domain is never split at a delimiter. */
		{ "alice@my-domain.test", "alice@my-domain.test", true },
		{ "alice@my", "alice@my-domain.test", false },
		{ NULL, "alice@example.test", false },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct addr_mailbox mb = mailbox(rows[i].addr);

		cr_assert_eq(sender_owned_by(rows[i].login, &mb, al,
					     cfg->recipient_delimiter),
			     rows[i].owned, "row %zu: %s as %s", i,
			     rows[i].login ? rows[i].login : "-", rows[i].addr);
	}
	/* No aliases file, no delimiter. */
	struct addr_mailbox tag = mailbox("alice+tag@example.test");
	struct addr_mailbox alias = mailbox("solo@example.test");

	cr_assert(!sender_owned_by("alice@example.test", &tag, al, ""));
	cr_assert(!sender_owned_by("alice@example.test", &alias, NULL, "+"));
}

static struct addr_path path(const char *s)
{
	struct addr_path p;

	cr_assert_eq(addr_parse_path(s, strlen(s), ADDR_OPT_UTF8, &p, NULL), 0,
		     "%s", s);
	return p;
}

Test(sender, mail_from_table)
{
	struct config *allow = parse("local_sender_policy allow\n");
	struct config *trust = parse("trusted_networks 192.0.2.0/24,2001:db8::/32\n");
	static const struct {
		int cfg; /* 0 default, 1 allow, 2 trusted_networks */
		const char *login, *peer, *path;
		enum sender_verdict want;
	} rows[] = {
		{ 0, "alice@example.test", "127.0.0.1", "<alice@example.test>", SENDER_OK },
		{ 0, "alice@example.test", "127.0.0.1", "<alice+x@example.test>", SENDER_OK },
		{ 0, "alice@example.test", "127.0.0.1", "<bob@example.test>", SENDER_NOT_OWNED },
		{ 0, "alice@example.test", "127.0.0.1", "<ceo@bank.example>", SENDER_NOT_OWNED },
		{ 0, "alice@example.test", "127.0.0.1", "<>", SENDER_NULL_AUTH },
		/* Neither the policy nor trust relaxes a logged-in user. */
		{ 1, "alice@example.test", "127.0.0.1", "<bob@example.test>", SENDER_NOT_OWNED },
		{ 2, "alice@example.test", "192.0.2.9", "<>", SENDER_NULL_AUTH },
		/* Unauthenticated. */
		{ 0, NULL, "127.0.0.1", "<alice@example.test>", SENDER_LOCAL_UNAUTH },
		{ 0, NULL, "127.0.0.1", "<nobody@EXAMPLE.TEST>", SENDER_LOCAL_UNAUTH },
		{ 0, NULL, "127.0.0.1", "<x@my-domain.test>", SENDER_LOCAL_UNAUTH },
		{ 0, NULL, "127.0.0.1", "<>", SENDER_OK },
		{ 0, NULL, "127.0.0.1", "<a@elsewhere.test>", SENDER_OK },
		{ 0, NULL, "127.0.0.1", "<a@sub.example.test>", SENDER_OK },
		{ 0, NULL, "127.0.0.1", "<a@[127.0.0.1]>", SENDER_OK },
		{ 1, NULL, "127.0.0.1", "<alice@example.test>", SENDER_OK },
		{ 2, NULL, "192.0.2.9", "<alice@example.test>", SENDER_OK },
		{ 2, NULL, "::ffff:192.0.2.9", "<alice@example.test>", SENDER_OK },
		{ 2, NULL, "2001:db8::1", "<alice@example.test>", SENDER_OK },
		{ 2, NULL, "192.0.3.1", "<alice@example.test>", SENDER_LOCAL_UNAUTH },
		{ 2, NULL, "127.0.0.1", "<alice@example.test>", SENDER_LOCAL_UNAUTH },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const struct config *c = rows[i].cfg == 1 ? allow
					 : rows[i].cfg == 2 ? trust : cfg;
		struct sender_ctx ctx = { c, al, rows[i].login, rows[i].peer };
		struct addr_path p = path(rows[i].path);

		cr_assert_eq(sender_check_mail(&ctx, &p), rows[i].want,
			     "row %zu: %s", i, rows[i].path);
	}
	config_free(allow);
	config_free(trust);
}

Test(sender, from_field_table)
{
	static const struct {
		const char *value;
		bool owned;
	} rows[] = {
		{ " alice@example.test", true },
		{ " Alice <alice@example.test>", true },
		{ " \"Liddell, Alice\" <Alice+news@Example.Test>", true },
		{ " =?UTF-8?Q?Al=C3=AEce?= <alice@example.test>", true },
		{ " Älïce <alice@example.test>", true },
		{ " John Q. Public <alice@example.test>", true },
		{ " alice@example.test (Alice (the real one))", true },
		{ " (c) Alice <alice@example.test> (c)", true },
		{ "\t<alice@example.test>", true },
		{ " alice@example.test, solo@example.test", true },
		{ " friends: alice@example.test, Me <alice+x@example.test>;", true },
		{ " a: alice@example.test;, alice@example.test", true },
		{ " \"alice\"@example.test", true },
		/* Somebody else, anywhere in the list. */
		{ " bob@example.test", false },
		{ " Alice <bob@example.test>", false },
		{ " alice@example.test, bob@example.test", false },
		{ " alice@example.test, team@example.test", false },
		{ " friends: alice@example.test, bob@example.test;", false },
		{ " ceo@bank.example", false },
		/* No mailbox, or not an address list: fails closed. */
		{ "", false },
		{ " ", false },
		{ " undisclosed-recipients:;", false },
		{ " Alice", false },
		{ " Alice <alice@example.test", false },
		{ " <alice@example.test> <bob@example.test>", false },
		{ " alice@example.test <bob@example.test>", false },
		{ " bob@example.test <alice@example.test>", false },
		{ " alice@example.test bob@example.test", false },
		{ " alice@example.test,", false },
		{ " , alice@example.test", false },
		{ " alice@example.test (unclosed", false },
		{ " alice@example.test )", false },
		{ " \"Alice <alice@example.test>", false },
		{ " <@route.example:alice@example.test>", false },
		{ " alice @ example.test", false },
		{ " a: b: alice@example.test;;", false },
		{ " Alice <alice@example.test>;", false },
		{ " alice@exa\001mple.test", false },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct sender_ctx ctx = { cfg, al, "alice@example.test", "127.0.0.1" };

		cr_assert_eq(sender_from_owned(&ctx, rows[i].value,
					       strlen(rows[i].value)),
			     rows[i].owned, "row %zu: \"%s\"", i, rows[i].value);
	}
	/* Bytes after a NUL are still read; no login owns nothing. */
	struct sender_ctx ctx = { cfg, al, "alice@example.test", "127.0.0.1" };
	struct sender_ctx anon = { cfg, al, NULL, "127.0.0.1" };

	static const char nul[] = "alice@example.test\0, alice@example.test";

	cr_assert(!sender_from_owned(&ctx, nul, sizeof(nul) - 1));
	cr_assert(!sender_from_owned(&anon, "alice@example.test", 18));
}

/* The scan of one message fed in pieces of chunk octets (0: whole). */
static void scan(const char *msg, size_t chunk, struct submit_scan *h,
		 long *end_r)
{
	size_t len = strlen(msg), step = chunk ? chunk : len;

	submit_init(h);
	*end_r = -1;
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step, end;

		if (submit_feed(h, msg + off, n, &end)) {
			cr_assert_eq(*end_r, -1, "ended twice");
			*end_r = (long)(off + end);
		}
	}
}

Test(sender, header_scan_table)
{
	static const struct {
		const char *msg;
		long end;      /* offset of the empty line, -1: none */
		bool date, msgid;
		const char *from;
		bool finish;   /* submit_finish: append at the end */
	} rows[] = {
		{ "Subject: x\r\n\r\nbody\r\n", 12, false, false, "", false },
		{ "\r\nbody\r\n", 0, false, false, "", false },
		{ "From: Alice <a@b>\r\nDate: x\r\nMessage-ID: <1@b>\r\n\r\n"
		  "From: body@line\r\n", 47, true, true, " Alice <a@b>", false },
		{ "from : a@b\r\nDATE:x\r\nmessage-id:y\r\n\r\n", 34, true, true,
		  " a@b", false },
		/* Folded, and two From: fields joined. */
		{ "From: Alice\r\n <a@b>,\r\n\tc@d\r\nTo: x\r\nFROM: e@f\r\n\r\n", 46,
		  false, false, " Alice <a@b>,\tc@d, e@f", false },
		/* Names that only start or end like the ones we look for. */
		{ "From-X: a@b\r\nX-From: c@d\r\nDated: 1\r\nMessage-IDs: 2\r\n"
		  "Resent-Date: 3\r\n\r\n", 68, false, false, "", false },
		/* A long field name is some other field. */
		{ "Fromfromfromfromfromfrom: a@b\r\n\r\n", 31, false, false, "",
		  false },
		/* No body: the header section ends with the content. */
		{ "Subject: x\r\nFrom: a@b\r\n", -1, false, false, " a@b", true },
		{ "Subject: x", -1, false, false, "", false },
		{ "", -1, false, false, "", true },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		static const size_t chunks[] = { 1, 2, 7, 0 };

		for (size_t c = 0; c < N_ROWS(chunks); c++) {
			struct submit_scan *h = malloc(sizeof(*h));
			long end;

			scan(rows[i].msg, chunks[c], h, &end);
			cr_assert_eq(end, rows[i].end, "row %zu/%zu: %ld", i,
				     chunks[c], end);
			cr_assert_eq(h->has_date, rows[i].date, "row %zu", i);
			cr_assert_eq(h->has_msgid, rows[i].msgid, "row %zu", i);
			cr_assert_eq(h->from_len, strlen(rows[i].from), "row %zu", i);
			cr_assert_eq(memcmp(h->from, rows[i].from, h->from_len), 0,
				     "row %zu/%zu: %.*s", i, chunks[c],
				     (int)h->from_len, h->from);
			cr_assert_eq(submit_finish(h), rows[i].finish, "row %zu", i);
			cr_assert(!submit_finish(h), "row %zu: twice", i);
			free(h);
		}
	}
}

Test(sender, header_scan_bounds_from)
{
	struct submit_scan *h = malloc(sizeof(*h));
	size_t n = SUBMIT_FROM_MAX + 100, end;
	char *msg = malloc(n + 20);

	memcpy(msg, "From: ", 6);
	memset(msg + 6, 'a', n);
	memcpy(msg + 6 + n, "\r\n\r\n", 4);
	submit_init(h);
	cr_assert(submit_feed(h, msg, n + 10, &end));
	cr_assert_eq(end, n + 8);
	cr_assert(h->from_long);
	cr_assert_eq(h->from_len, SUBMIT_FROM_MAX);
	free(msg);
	free(h);
}

Test(sender, added_fields)
{
	struct submit_scan h;
	char buf[SUBMIT_FIELDS_MAX];

	submit_init(&h);
	cr_assert_str_eq((submit_fields(&h, "ab12.3", "mx.example.test",
					1739455509, 3600, buf, sizeof(buf)),
			  buf),
			 "Date: Thu, 13 Feb 2025 15:05:09 +0100\r\n"
			 "Message-ID: <20250213140509.ab12.3@mx.example.test>\r\n");
	h.has_date = true;
	submit_fields(&h, "i", "h", 0, 0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "Message-ID: <19700101000000.i@h>\r\n");
	h.has_date = false;
	h.has_msgid = true;
	submit_fields(&h, "i", "h", 0, 0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n");
	h.has_date = true;
	cr_assert_eq(submit_fields(&h, "i", "h", 0, 0, buf, sizeof(buf)), 0);
	h.has_date = h.has_msgid = false;
	cr_assert_eq(submit_fields(&h, "i", "h", 0, 0, buf, 20), 0);
}

/* kantorpos-sendmail -f: who may set the envelope sender. */
Test(sender, local_sender_table)
{
	static const struct {
		const char *name;
		unsigned long uid;
		const char *sender;
		bool ok;
	} rows[] = {
		/* The own address, from anyone. */
		{ "nobody", 65534, "nobody@example.test", true },
		{ "nobody", 65534, "nobody@EXAMPLE.test", true },
		{ "nobody", 65534, "Nobody@example.test", false },
		{ "nobody", 65534, "nobody@my-domain.test", false },
		{ "nobody", 65534, "nobodyx@example.test", false },
		{ "nobody", 65534, "nobod@example.test", false },
		{ "nobody", 65534, "alice@example.test", false },
		{ "nobody", 65534, "", false },
		/* root, the daemons' account, run_as, the trusted users. */
		{ "root", 0, "alice@example.test", true },
		{ "toor", 0, "", true },
		{ "kp", 42, "anyone@else.test", true },
		{ "mailer", 43, "anyone@else.test", true },
		{ "www-data", 33, "", true },
		{ "www", 34, "www-data@example.test", false },
	};
	struct config *c = parse("run_as mailer\n"
				 "sendmail_trusted_users www-data\n");

	for (size_t i = 0; i < N_ROWS(rows); i++)
		cr_expect_eq(sender_local_allowed(c, rows[i].name, rows[i].uid,
						  42, rows[i].sender),
			     rows[i].ok, "row %zu", i);
	config_free(c);
}
