/* tests/test_sendmail_args.c: kantorpos-sendmail's pure parts — the
 * command line (sendmail/args.h) as a table of argv, the header section
 * it writes and the recipients -t reads (sm_header_build: Bcc dropped,
 * folded fields, groups and comments, the From: added), and the message
 * read as it comes (sendmail/message.h: the dot rule, CRLF, the end of
 * the header section), fed whole and in 1-, 2- and 7-byte pieces. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "sendmail/args.h"
#include "sendmail/message.h"

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ARGS 20

/* ---- the command line ---- */

struct args_row {
	const char *argv[MAX_ARGS]; /* after the program name */
	bool extract, dots, help;
	const char *sender, *name, *config;
	enum sm_body body;
	const char *rcpts;          /* joined by " " */
};

static const struct args_row args_rows[] = {
	/* Debian cron, exactly. */
	{ { "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "nobody" },
	  false, true, false, NULL, "CronDaemon", NULL, SM_BODY_8BITMIME,
	  "nobody" },
	{ { "-t", "-i" }, true, true, false, NULL, NULL, NULL,
	  SM_BODY_UNSAID, "" },
	{ { "-ti", "a@x.test", "b" }, true, true, false, NULL, NULL,
	  NULL, SM_BODY_UNSAID, "a@x.test b" },
	{ { "-oi", "-f", "me@x.test", "a" }, false, true, false,
	  "me@x.test", NULL, NULL, SM_BODY_UNSAID, "a" },
	{ { "-fme@x.test", "-F", "Cron Daemon", "a" }, false, false,
	  false, "me@x.test", "Cron Daemon", NULL, SM_BODY_UNSAID, "a" },
	{ { "-r", "<>", "a" }, false, false, false, "<>", NULL, NULL,
	  SM_BODY_UNSAID, "a" },
	{ { "-odi", "-odb", "-oQ/var/spool/x", "-oee", "-v", "-bm", "-N",
	    "never", "-R", "hdrs", "-Venv1", "-h", "17", "-m", "-U", "a" },
	  false, false, false, NULL, NULL, NULL, SM_BODY_UNSAID, "a" },
	{ { "-B", "7bit", "-C", "/etc/k.conf", "--", "-odd" }, false,
	  false, false, NULL, NULL, "/etc/k.conf", SM_BODY_7BIT, "-odd" },
	/* Options end at the first recipient. */
	{ { "a", "-i" }, false, false, false, NULL, NULL, NULL,
	  SM_BODY_UNSAID, "a -i" },
	{ { "--help" }, false, false, true, NULL, NULL, NULL,
	  SM_BODY_UNSAID, "" },
};

/* Refused, with a substring of the reason. */
static const struct {
	const char *argv[MAX_ARGS];
	const char *err;
} refused_rows[] = {
	{ { "-bs" }, "-bs: not supported" },
	{ { "-bp" }, "-bp: not supported" },
	{ { "-b", "i" }, "-bi: not supported" },
	{ { "-q" }, "-q: unknown option" },
	{ { "-tq", "a" }, "-q: unknown option" },
	{ { "-f" }, "-f: expects a value" },
	{ { "-i", "-F" }, "-F: expects a value" },
	{ { "-B", "9BIT", "a" }, "-B 9BIT: expected 7BIT or 8BITMIME" },
};

/* argv of the program name and the row's words. */
static int make_argv(const char *const *words, char **argv)
{
	int argc = 1;

	argv[0] = "sendmail";
	while (argc < MAX_ARGS && words[argc - 1] != NULL) {
		argv[argc] = (char *)words[argc - 1];
		argc++;
	}
	argv[argc] = NULL;
	return argc;
}

static void check_args(size_t i, const struct args_row *row)
{
	char *argv[MAX_ARGS + 1], joined[256] = "";
	int argc = make_argv(row->argv, argv);
	struct sm_args a;

	cr_assert_eq(sm_args_parse(argc, argv, &a), 0, "row %zu: %s", i,
		     a.err);
	cr_expect_eq(a.extract, row->extract, "row %zu", i);
	cr_expect_eq(a.ignore_dots, row->dots, "row %zu", i);
	cr_expect_eq(a.help, row->help, "row %zu", i);
	cr_expect_eq(a.body, row->body, "row %zu", i);
	cr_expect_str_eq(a.sender ? a.sender : "-",
			 row->sender ? row->sender : "-", "row %zu", i);
	cr_expect_str_eq(a.full_name ? a.full_name : "-",
			 row->name ? row->name : "-", "row %zu", i);
	cr_expect_str_eq(a.config ? a.config : "-",
			 row->config ? row->config : "-", "row %zu", i);
	for (size_t k = 0; k < a.n_rcpts; k++)
		snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined),
			 "%s%s", k ? " " : "", a.rcpts[k]);
	cr_expect_str_eq(joined, row->rcpts, "row %zu", i);
}

Test(sendmail, args_table)
{
	for (size_t i = 0; i < N_ROWS(args_rows); i++)
		check_args(i, &args_rows[i]);
	for (size_t i = 0; i < N_ROWS(refused_rows); i++) {
		char *argv[MAX_ARGS + 1];
		int argc = make_argv(refused_rows[i].argv, argv);
		struct sm_args a;

		cr_expect_eq(sm_args_parse(argc, argv, &a), EX_USAGE,
			     "refused row %zu", i);
		cr_expect(strstr(a.err, refused_rows[i].err) != NULL,
			  "refused row %zu: %s", i, a.err);
	}
}

/* ---- the header section ---- */

/* "local@domain local@domain ..." of h's recipients. */
static void join_rcpts(const struct sm_header *h, char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t k = 0; k < h->n_rcpts; k++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s@%s",
			 k ? " " : "", h->rcpts[k].local, h->rcpts[k].domain);
}

static const struct {
	const char *in;
	bool extract;
	const char *name;
	const char *out, *rcpts;
} header_rows[] = {
	{ "To: a@x.test\r\nCc: B <b@y.test>, c\r\nBcc: d@x.test\r\n"
	  "Subject: s\r\n", true, "Full Name",
	  "To: a@x.test\r\nCc: B <b@y.test>, c\r\nSubject: s\r\n"
	  "From: Full Name <me@example.test>\r\n\r\n",
	  "a@x.test b@y.test c@example.test d@x.test" },
	/* Folded fields; a Bcc goes with its continuation lines; From:
	 * there already. */
	{ "To: a@x.test,\r\n\tb@x.test\r\nBcc: secret@x.test,\r\n  "
	  "other@x.test\r\nFrom: me\r\nX: y\r\n", true, NULL,
	  "To: a@x.test,\r\n\tb@x.test\r\nFrom: me\r\nX: y\r\n\r\n",
	  "a@x.test b@x.test secret@x.test other@x.test" },
	/* Groups, quoted display names with commas, comments. */
	{ "To: Friends: a@x.test, \"Doe, J\" <j@x.test>;, (c) k@x.test "
	  "(Kay)\r\ncc: undisclosed-recipients:;\r\n", true, NULL,
	  "To: Friends: a@x.test, \"Doe, J\" <j@x.test>;, (c) k@x.test "
	  "(Kay)\r\ncc: undisclosed-recipients:;\r\n"
	  "From: <me@example.test>\r\n\r\n",
	  "a@x.test j@x.test k@x.test" },
	/* Resent-* is not read; without -t nothing is, Bcc goes anyway. */
	{ "Resent-To: r@x.test\r\nTo: a@x.test\r\n", true, NULL,
	  "Resent-To: r@x.test\r\nTo: a@x.test\r\nFrom: <me@example.test>"
	  "\r\n\r\n", "a@x.test" },
	{ "To: a@x.test\r\nBCC: b@x.test\r\n", false, NULL,
	  "To: a@x.test\r\nFrom: <me@example.test>\r\n\r\n", "" },
	/* Display names: quoted when not atoms; no new field from it. */
	{ "", false, "O'Neil, Bob", "From: \"O'Neil, Bob\" <me@example.test>"
	  "\r\n\r\n", "" },
	{ "", false, "Evil\r\nBcc: x", "From: \"Evil  Bcc: x\" "
	  "<me@example.test>\r\n\r\n", "" },
	{ "", false, "a\"b\\c", "From: \"a\\\"b\\\\c\" <me@example.test>\r\n"
	  "\r\n", "" },
};

Test(sendmail, header_table)
{
	for (size_t i = 0; i < N_ROWS(header_rows); i++) {
		struct sm_msg_opts o = { false, header_rows[i].extract,
					 "example.test", "me@example.test",
					 header_rows[i].name };
		struct sm_header h;
		char rcpts[512];

		cr_assert_eq(sm_header_build(header_rows[i].in,
					     strlen(header_rows[i].in), &o, &h),
			     0, "row %zu", i);
		cr_expect_eq(h.len, strlen(header_rows[i].out), "row %zu", i);
		cr_expect_str_eq(h.text, header_rows[i].out, "row %zu", i);
		join_rcpts(&h, rcpts, sizeof(rcpts));
		cr_expect_str_eq(rcpts, header_rows[i].rcpts, "row %zu", i);
		sm_header_free(&h);
	}
}

/* ---- the message as it comes ---- */

struct collect {
	char header[4096], body[4096], rcpts[512];
	int headers;
};

static int c_header(void *arg, const struct sm_header *h)
{
	struct collect *c = arg;

	c->headers++;
	snprintf(c->header, sizeof(c->header), "%.*s", (int)h->len, h->text);
	join_rcpts(h, c->rcpts, sizeof(c->rcpts));
	return 0;
}

static int c_body(void *arg, const char *buf, size_t len)
{
	struct collect *c = arg;
	size_t have = strlen(c->body);

	cr_assert_lt(have + len, sizeof(c->body));
	memcpy(c->body + have, buf, len);
	c->body[have + len] = '\0';
	return 0;
}

#define FROM "From: <me@example.test>\r\n"

static const struct {
	const char *in;
	bool dots_ok; /* -i */
	const char *header, *body;
	bool ended;
} msg_rows[] = {
	{ "Subject: x\n\nline1\n.\nafter\n", false, "Subject: x\r\n" FROM "\r\n",
	  "line1\r\n", true },
	{ "Subject: x\n\nline1\n.\nafter\n", true, "Subject: x\r\n" FROM "\r\n",
	  "line1\r\n.\r\nafter\r\n", false },
	{ "Subject: x\r\n\r\nline1\r\n.\r\nafter\r\n", false,
	  "Subject: x\r\n" FROM "\r\n", "line1\r\n", true },
	/* Only a lone dot ends it; nothing is unstuffed. */
	{ "S: x\n\n..x\n.y\n. \n", false, "S: x\r\n" FROM "\r\n",
	  "..x\r\n.y\r\n. \r\n", false },
	{ "S: x\n\nx\n.", false, "S: x\r\n" FROM "\r\n", "x\r\n", false },
	{ "S: x\n.\nnot read\n", false, "S: x\r\n" FROM "\r\n", "", true },
	/* The header section ends before a line that is no field. */
	{ "Subject: s\nhello world\n", false, "Subject: s\r\n" FROM "\r\n",
	  "hello world\r\n", false },
	{ "Subject: s\n continued\n\tagain\nbody\n", false,
	  "Subject: s\r\n continued\r\n\tagain\r\n" FROM "\r\n", "body\r\n",
	  false },
	{ " leading blank\n", false, FROM "\r\n", " leading blank\r\n", false },
	/* An mbox "From " line goes; headers alone; nothing at all. */
	{ "From me Mon Jan  1 00:00:00 2024\nSubject: s\n\nb\n", false,
	  "Subject: s\r\n" FROM "\r\n", "b\r\n", false },
	{ "Subject: s", false, "Subject: s\r\n" FROM "\r\n", "", false },
	{ "", false, FROM "\r\n", "", false },
	{ "\n\nbody\n", false, FROM "\r\n", "\r\nbody\r\n", false },
	/* Bare CR stays; 8-bit content goes through. */
	{ "S: x\n\na\rb\n\xc3\xa9\n", true, "S: x\r\n" FROM "\r\n",
	  "a\rb\r\n\xc3\xa9\r\n", false },
};

static void feed_row(size_t i, size_t piece)
{
	struct sm_msg_opts o = { msg_rows[i].dots_ok, false, "example.test",
				 "me@example.test", NULL };
	struct collect c = { .headers = 0 };
	struct sm_msg_sink sink = { c_header, c_body, &c };
	struct sm_msg *m = sm_msg_new(&o, &sink);
	const char *in = msg_rows[i].in;
	size_t n = strlen(in);

	cr_assert_not_null(m);
	for (size_t k = 0; k < n; k += piece)
		cr_assert_eq(sm_msg_feed(m, in + k, n - k < piece ? n - k : piece),
			     0, "row %zu", i);
	cr_assert_eq(sm_msg_finish(m), 0, "row %zu", i);
	cr_expect_eq(c.headers, 1, "row %zu piece %zu", i, piece);
	cr_expect_str_eq(c.header, msg_rows[i].header, "row %zu piece %zu", i,
			 piece);
	cr_expect_str_eq(c.body, msg_rows[i].body, "row %zu piece %zu", i,
			 piece);
	cr_expect_eq(sm_msg_ended(m), msg_rows[i].ended, "row %zu", i);
	cr_expect_eq(sm_msg_size(m), strlen(c.header) + strlen(c.body),
		     "row %zu", i);
	cr_expect_eq(sm_msg_eightbit(m), strchr(in, '\xc3') != NULL,
		     "row %zu", i);
	sm_msg_free(m);
}

Test(sendmail, message_table_in_pieces)
{
	static const size_t pieces[] = { 1, 2, 7, 1 << 20 };

	for (size_t i = 0; i < N_ROWS(msg_rows); i++)
		for (size_t p = 0; p < N_ROWS(pieces); p++)
			feed_row(i, pieces[p]);
}

/* -t through the reader: the recipients come with the header. */
Test(sendmail, extract_through_the_reader)
{
	struct sm_msg_opts o = { true, true, "example.test", "me@example.test",
				 NULL };
	struct collect c = { .headers = 0 };
	struct sm_msg_sink sink = { c_header, c_body, &c };
	struct sm_msg *m = sm_msg_new(&o, &sink);
	static const char in[] = "To: root (Cron Daemon)\nCc: a@x.test,\n b@x.test"
				 "\nBcc: hidden@x.test\nSubject: s\n\nbody\n";

	cr_assert_eq(sm_msg_feed(m, in, strlen(in)), 0);
	cr_assert_eq(sm_msg_finish(m), 0);
	cr_expect_str_eq(c.rcpts, "root@example.test a@x.test b@x.test "
				  "hidden@x.test");
	cr_expect_str_eq(c.header, "To: root (Cron Daemon)\r\nCc: a@x.test,\r\n"
				   " b@x.test\r\nSubject: s\r\n" FROM "\r\n");
	cr_expect_str_eq(c.body, "body\r\n");
	sm_msg_free(m);
}

/* A header section that never ends within SM_HEADER_MAX is refused. */
Test(sendmail, header_too_long)
{
	struct sm_msg_opts o = { true, false, "example.test", NULL, NULL };
	struct collect c = { .headers = 0 };
	struct sm_msg_sink sink = { c_header, c_body, &c };
	struct sm_msg *m = sm_msg_new(&o, &sink);
	char line[] = "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
	int rc = 0;

	for (size_t n = 0; rc == 0 && n <= SM_HEADER_MAX; n += strlen(line))
		rc = sm_msg_feed(m, line, strlen(line));
	cr_expect_eq(rc, EX_DATAERR);
	cr_expect_eq(c.headers, 0);
	sm_msg_free(m);
}
