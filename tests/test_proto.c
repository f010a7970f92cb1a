/* tests/test_proto.c: the shared line-protocol engine (split, lookup, state
 * gating, the dispatcher, bad-command counter, strict numbers, forbidden
 * bytes). */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/proto/proto.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(proto, .init = setup, .fini = teardown);

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

Test(proto, split_table)
{
	static const struct {
		const char *line;
		int rc;
		const char *verb;
		const char *args;
	} rows[] = {
		{ "NOOP", 0, "NOOP", "" },
		{ "noop", 0, "noop", "" },
		{ "NOOP ", 0, "NOOP", "" },
		{ "NOOP  ", 0, "NOOP", " " },
		{ "USER bob", 0, "USER", "bob" },
		{ "USER bob ", 0, "USER", "bob " },
		{ "PASS  two  spaces ", 0, "PASS", " two  spaces " },
		{ "MAIL FROM:<a@b> SIZE=10", 0, "MAIL", "FROM:<a@b> SIZE=10" },
		{ "TOP 1 10", 0, "TOP", "1 10" },
		{ "ARG a\tb", 0, "ARG", "a\tb" },
		{ "NOOP\tx", 0, "NOOP\tx", "" },
		{ "\tNOOP", 0, "\tNOOP", "" },
		{ "", -1, "", "" },
		{ " ", -1, "", "" },
		{ " NOOP", -1, "", "" },
		{ "  NOOP x", -1, "", "" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char *line = strdup(rows[i].line);
		char *verb = NULL, *args = NULL;
		int rc = proto_split(line, &verb, &args);

		cr_assert_eq(rc, rows[i].rc, "row %zu \"%s\": rc %d", i, rows[i].line, rc);
		cr_assert_not_null(verb, "row %zu", i);
		cr_assert_not_null(args, "row %zu", i);
		if (rc == 0) {
			cr_assert_str_eq(verb, rows[i].verb, "row %zu verb", i);
			cr_assert_str_eq(args, rows[i].args, "row %zu args", i);
			/* args must stay inside the caller's buffer (writable). */
			cr_assert(args >= line && args <= line + strlen(rows[i].line),
				"row %zu args points into the line", i);
		}
		free(line);
	}
}

Test(proto, next_word_table)
{
	static const struct {
		const char *args;
		const char *words[4];
	} rows[] = {
		{ "", { NULL } },
		{ "   ", { NULL } },
		{ "1", { "1", NULL } },
		{ "1 10", { "1", "10", NULL } },
		{ " 1   10  ", { "1", "10", NULL } },
		{ "a b c", { "a", "b", "c", NULL } },
		{ "a\tb c", { "a\tb", "c", NULL } },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char *buf = strdup(rows[i].args);
		char *cur = buf, *w;
		size_t n = 0;

		while ((w = proto_next_word(&cur)) != NULL) {
			cr_assert_lt(n, 3, "row %zu: too many words", i);
			cr_assert_not_null(rows[i].words[n], "row %zu: extra word \"%s\"", i, w);
			cr_assert_str_eq(w, rows[i].words[n], "row %zu word %zu", i, n);
			n++;
		}
		cr_assert_null(rows[i].words[n], "row %zu: %zu words, more expected", i, n);
		cr_assert_null(proto_next_word(&cur), "row %zu: stays exhausted", i);
		free(buf);
	}
}

/* A toy session and table in the style the daemons use. */
enum toy_state { TOY_AUTH, TOY_TRANS, TOY_UPDATE };
struct toy_session {
	int calls;
	const char *last;
	char args[64]; /* what the last handler got */
};

static int toy_user(void *session, char *args)
{
	struct toy_session *s = session;

	s->calls++;
	s->last = "user";
	snprintf(s->args, sizeof(s->args), "%s", args);
	return PROTO_DONE;
}

static int toy_quit(void *session, char *args)
{
	struct toy_session *s = session;

	s->calls++;
	s->last = "quit";
	return PROTO_CLOSE;
}

static int toy_quit_update(void *session, char *args)
{
	struct toy_session *s = session;

	s->calls++;
	s->last = "quit-update";
	return PROTO_CLOSE;
}

static int toy_stat(void *session, char *args)
{
	struct toy_session *s = session;

	s->calls++;
	s->last = "stat";
	return PROTO_DONE;
}

static const struct proto_cmd toy_table[] = {
	{ "USER", PROTO_STATE(TOY_AUTH), toy_user, PROTO_CMD_NEEDS_ARG },
	{ "QUIT", PROTO_STATE(TOY_AUTH) | PROTO_STATE(TOY_TRANS), toy_quit, PROTO_CMD_NO_ARG },
	{ "QUIT", PROTO_STATE(TOY_UPDATE), toy_quit_update, PROTO_CMD_NO_ARG },
	{ "STAT", PROTO_STATE(TOY_TRANS), toy_stat, PROTO_CMD_NO_ARG },
	{ NULL, 0, NULL, 0 },
};

/* Stands in for "not written yet" so the test sees that lookup sets *cmd_r. */
static const struct proto_cmd poison_row = { "POISON", 0, toy_stat, 0 };

Test(proto, lookup_table)
{
	static const struct {
		const char *verb;
		unsigned state;
		enum proto_lookup_result res;
		const char *handled; /* which handler runs when found */
		const char *row_verb; /* row reported for wrong state */
	} rows[] = {
		{ "USER", TOY_AUTH, PROTO_FOUND, "user", NULL },
		{ "user", TOY_AUTH, PROTO_FOUND, "user", NULL },
		{ "UsEr", TOY_AUTH, PROTO_FOUND, "user", NULL },
		{ "QUIT", TOY_AUTH, PROTO_FOUND, "quit", NULL },
		{ "quit", TOY_TRANS, PROTO_FOUND, "quit", NULL },
		{ "Quit", TOY_UPDATE, PROTO_FOUND, "quit-update", NULL },
		{ "stat", TOY_TRANS, PROTO_FOUND, "stat", NULL },
		{ "STAT", TOY_AUTH, PROTO_WRONG_STATE, NULL, "STAT" },
		{ "user", TOY_TRANS, PROTO_WRONG_STATE, NULL, "USER" },
		{ "USER", TOY_UPDATE, PROTO_WRONG_STATE, NULL, "USER" },
		{ "STAT", 31, PROTO_WRONG_STATE, NULL, "STAT" },
		{ "STAT", 40, PROTO_WRONG_STATE, NULL, "STAT" },
		{ "STATS", TOY_TRANS, PROTO_UNKNOWN, NULL, NULL },
		{ "STA", TOY_TRANS, PROTO_UNKNOWN, NULL, NULL },
		{ "", TOY_TRANS, PROTO_UNKNOWN, NULL, NULL },
		{ "APOP", TOY_AUTH, PROTO_UNKNOWN, NULL, NULL },
		{ "US\xc5R", TOY_AUTH, PROTO_UNKNOWN, NULL, NULL },
		{ "USER\t", TOY_AUTH, PROTO_UNKNOWN, NULL, NULL },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct toy_session s = { 0, NULL, "" };
		const struct proto_cmd *cmd = &poison_row;
		enum proto_lookup_result r =
			proto_lookup(toy_table, rows[i].verb, rows[i].state, &cmd);
		char empty[1] = "";

		cr_assert_eq(r, rows[i].res, "row %zu \"%s\": result %d", i, rows[i].verb, r);
		switch (r) {
		case PROTO_FOUND:
			cr_assert_not_null(cmd);
			cmd->run(&s, empty);
			cr_assert_eq(s.calls, 1, "row %zu", i);
			cr_assert_str_eq(s.last, rows[i].handled, "row %zu", i);
			break;
		case PROTO_WRONG_STATE:
			cr_assert_not_null(cmd, "row %zu", i);
			cr_assert_str_eq(cmd->verb, rows[i].row_verb, "row %zu", i);
			break;
		case PROTO_UNKNOWN:
			cr_assert_null(cmd, "row %zu", i);
			break;
		}
	}
}

Test(proto, args_flags)
{
	static const struct {
		const char *verb;
		const char *args;
		bool ok;
	} rows[] = {
		{ "USER", "bob", true },
		{ "USER", "", false },
		{ "USER", " ", true }, /* the argument is a space; the handler judges */
		{ "QUIT", "", true },
		{ "QUIT", "now", false },
		{ "QUIT", " ", false },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const struct proto_cmd *cmd = NULL;

		cr_assert_eq(proto_lookup(toy_table, rows[i].verb, TOY_AUTH, &cmd), PROTO_FOUND);
		cr_assert_eq(proto_args_ok(cmd, rows[i].args), rows[i].ok, "row %zu", i);
	}
}

Test(proto, split_then_dispatch)
{
	char line[] = "quit";
	char *verb, *args;
	const struct proto_cmd *cmd;
	struct toy_session s = { 0, NULL, "" };

	cr_assert_eq(proto_split(line, &verb, &args), 0);
	cr_assert_eq(proto_lookup(toy_table, verb, TOY_TRANS, &cmd), PROTO_FOUND);
	cr_assert(proto_args_ok(cmd, args));
	cr_assert_eq(cmd->run(&s, args), PROTO_CLOSE);
	cr_assert_str_eq(s.last, "quit");
}

/* The refusal the toy daemon was told of, as one string:
 * "KIND ROW VERB|ARGS" (ROW "-" without a row; BYTES: "BYTES ROW @POS"). */
static char refused[128];

static int toy_refuse(void *session, const struct proto_refusal *r)
{
	static const char *const kinds[] = {
		"BYTES", "EMPTY", "LENGTH", "UNKNOWN", "STATE", "ARGS",
	};
	const char *row = r->cmd != NULL ? r->cmd->verb : "-";

	(void)session;
	if (r->kind == PROTO_REFUSE_BYTES)
		snprintf(refused, sizeof(refused), "%s %s @%zu", kinds[r->kind],
			 row, r->pos);
	else
		snprintf(refused, sizeof(refused), "%s %s %s|%s", kinds[r->kind],
			 row, r->verb, r->args);
	return -7;
}

static size_t toy_max_len(const char *verb)
{
	return strcasecmp(verb, "USER") == 0 ? 12 : 8;
}

Test(proto, dispatch_table)
{
	static const struct proto_dispatcher d = { toy_table, toy_max_len, toy_refuse };
	static const struct {
		const char *line;
		size_t len;       /* 0: strlen */
		unsigned state;
		int rc;           /* the handler's outcome, or -7: refused */
		const char *what; /* the handler's name or the refusal */
	} rows[] = {
		{ "USER bob", 0, TOY_AUTH, PROTO_DONE, "user bob" },
		{ "user  b b ", 0, TOY_AUTH, PROTO_DONE, "user  b b " },
		{ "QUIT", 0, TOY_TRANS, PROTO_CLOSE, "quit" },
		{ "quit", 0, TOY_UPDATE, PROTO_CLOSE, "quit-update" },
		/* the argument flags, after the state */
		{ "QUIT now", 0, TOY_AUTH, -7, "ARGS QUIT QUIT|now" },
		{ "QUIT ", 0, TOY_AUTH, PROTO_CLOSE, "quit" },
		{ "USER", 0, TOY_AUTH, -7, "ARGS USER USER|" },
		{ "USER ", 0, TOY_AUTH, -7, "ARGS USER USER|" },
		{ "STAT x", 0, TOY_AUTH, -7, "STATE STAT STAT|x" },
		{ "USER bob", 0, TOY_TRANS, -7, "STATE USER USER|bob" },
		{ "NOOP", 0, TOY_AUTH, -7, "UNKNOWN - NOOP|" },
		{ "STAT\tx", 0, TOY_TRANS, -7, "UNKNOWN - STAT\tx|" },
		{ "", 0, TOY_AUTH, -7, "EMPTY - |" },
		{ " USER bob", 0, TOY_AUTH, -7, "EMPTY - |" },
		/* the length: after the split, before the lookup */
		{ "USER 1234567", 0, TOY_AUTH, PROTO_DONE, "user 1234567" },
		{ "USER 12345678", 0, TOY_AUTH, -7, "LENGTH - USER|12345678" },
		{ "NOOP 123", 0, TOY_AUTH, -7, "UNKNOWN - NOOP|123" },
		{ "NOOP 1234", 0, TOY_AUTH, -7, "LENGTH - NOOP|1234" },
		/* bytes: first, and the row of a known verb before them */
		{ "USER a\rb", 0, TOY_AUTH, -7, "BYTES USER @6" },
		{ "STAT a\0b", 8, TOY_AUTH, -7, "BYTES STAT @6" },
		{ "US\x01ER a", 0, TOY_AUTH, -7, "BYTES - @2" },
		{ "NOOP \x7f", 0, TOY_AUTH, -7, "BYTES - @5" },
		{ " \n", 0, TOY_AUTH, -7, "BYTES - @1" },
		{ "\r", 0, TOY_AUTH, -7, "BYTES - @0" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].line);
		char *line = malloc(len + 1);
		struct toy_session s = { 0, NULL, "" };
		char got[128];
		int rc;

		cr_assert_not_null(line);
		memcpy(line, rows[i].line, len + 1);
		refused[0] = '\0';
		rc = proto_dispatch(&d, rows[i].state, line, len, &s);
		cr_assert_eq(rc, rows[i].rc, "row %zu \"%s\": rc %d", i, rows[i].line, rc);
		if (rc == -7) {
			cr_assert_eq(s.calls, 0, "row %zu", i);
			snprintf(got, sizeof(got), "%s", refused);
		} else {
			cr_assert_eq(s.calls, 1, "row %zu", i);
			cr_assert_str_eq(refused, "", "row %zu", i);
			snprintf(got, sizeof(got), "%s%s%s", s.last,
				 s.args[0] != '\0' ? " " : "", s.args);
		}
		cr_assert_str_eq(got, rows[i].what, "row %zu \"%s\"", i, rows[i].line);
		/* a refusal for bytes leaves the line as it was */
		if (strncmp(rows[i].what, "BYTES", 5) == 0)
			cr_assert_eq(memcmp(line, rows[i].line, len), 0, "row %zu", i);
		free(line);
	}
}

Test(proto, dispatch_without_max_len)
{
	static const struct proto_dispatcher d = { toy_table, NULL, toy_refuse };
	char line[600];
	struct toy_session s = { 0, NULL, "" };

	memset(line, 'b', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "USER ", 5);
	cr_assert_eq(proto_dispatch(&d, TOY_AUTH, line, strlen(line), &s), PROTO_DONE);
	cr_assert_str_eq(s.last, "user");
}

Test(proto, bad_counter)
{
	struct proto_bad bad;

	proto_bad_init(&bad, 3);
	cr_assert_not(proto_bad_reached(&bad));
	cr_assert_not(proto_bad_hit(&bad));
	cr_assert_not(proto_bad_hit(&bad));
	cr_assert_not(proto_bad_reached(&bad));
	cr_assert(proto_bad_hit(&bad), "third bad command reaches a limit of 3");
	cr_assert(proto_bad_reached(&bad));
	cr_assert(proto_bad_hit(&bad), "stays reached");
	cr_assert_eq(bad.count, 4);

	proto_bad_init(&bad, 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_not(proto_bad_hit(&bad), "limit 0 never reached");

	proto_bad_init(&bad, 1);
	bad.count = (unsigned)-1;
	cr_assert(proto_bad_hit(&bad));
	cr_assert_eq(bad.count, (unsigned)-1, "count saturates");
}

Test(proto, parse_uint_table)
{
	static const struct {
		const char *s;
		uint64_t max;
		int rc;
		int err;
		uint64_t val;
	} rows[] = {
		{ "", UINT64_MAX, -1, EINVAL, 0 },
		{ "0", UINT64_MAX, 0, 0, 0 },
		{ "1", UINT64_MAX, 0, 0, 1 },
		{ "007", UINT64_MAX, 0, 0, 7 },
		{ "000", UINT64_MAX, 0, 0, 0 },
		{ "42", UINT64_MAX, 0, 0, 42 },
		{ "+1", UINT64_MAX, -1, EINVAL, 0 },
		{ "-1", UINT64_MAX, -1, EINVAL, 0 },
		{ "-0", UINT64_MAX, -1, EINVAL, 0 },
		{ "1 ", UINT64_MAX, -1, EINVAL, 0 },
		{ " 1", UINT64_MAX, -1, EINVAL, 0 },
		{ "\t1", UINT64_MAX, -1, EINVAL, 0 },
		{ "1\n", UINT64_MAX, -1, EINVAL, 0 },
		{ "1a", UINT64_MAX, -1, EINVAL, 0 },
		{ "0x10", UINT64_MAX, -1, EINVAL, 0 },
		{ "1.5", UINT64_MAX, -1, EINVAL, 0 },
		{ "1e3", UINT64_MAX, -1, EINVAL, 0 },
		{ "\xd9\xa1", UINT64_MAX, -1, EINVAL, 0 }, /* Arabic-Indic one */
		{ "18446744073709551615", UINT64_MAX, 0, 0, UINT64_MAX },
		{ "018446744073709551615", UINT64_MAX, 0, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -1, ERANGE, 0 },
		{ "18446744073709551620", UINT64_MAX, -1, ERANGE, 0 },
		{ "99999999999999999999", UINT64_MAX, -1, ERANGE, 0 },
		{ "184467440737095516150", UINT64_MAX, -1, ERANGE, 0 },
		{ "99999999999999999999x", UINT64_MAX, -1, EINVAL, 0 },
		{ "100", 100, 0, 0, 100 },
		{ "101", 100, -1, ERANGE, 0 },
		{ "0", 0, 0, 0, 0 },
		{ "1", 0, -1, ERANGE, 0 },
		{ "4294967295", 4294967295u, 0, 0, 4294967295u },
		{ "4294967296", 4294967295u, -1, ERANGE, 0 },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		uint64_t val = 12345;
		int rc;

		errno = 0;
		rc = proto_parse_uint(rows[i].s, rows[i].max, &val);
		cr_assert_eq(rc, rows[i].rc, "row %zu \"%s\": rc %d", i, rows[i].s, rc);
		if (rc == 0) {
			cr_assert_eq(val, rows[i].val, "row %zu value %llu", i,
				(unsigned long long)val);
		} else {
			cr_assert_eq(errno, rows[i].err, "row %zu errno %d", i, errno);
			cr_assert_eq(val, 12345, "row %zu: value untouched on failure", i);
		}
	}
}

Test(proto, check_line_table)
{
	static const struct {
		const char *line;
		size_t len;
		enum proto_line_fault fault;
		size_t pos;
	} rows[] = {
		{ "", 0, PROTO_LINE_OK, 0 },
		{ "NOOP", 4, PROTO_LINE_OK, 4 },
		{ "PASS a\tb", 8, PROTO_LINE_OK, 8 },
		{ "USER j\xc3\xb6rg", 10, PROTO_LINE_OK, 10 },
		{ "A\0B", 3, PROTO_LINE_NUL, 1 },
		{ "\0", 1, PROTO_LINE_NUL, 0 },
		{ "DATA\r", 5, PROTO_LINE_BARE_CR, 4 },
		{ "MAIL\rFROM", 9, PROTO_LINE_BARE_CR, 4 },
		{ "RCPT\nTO", 7, PROTO_LINE_BARE_LF, 4 },
		{ "X\x01", 2, PROTO_LINE_CTRL, 1 },
		{ "\x1b[31m", 5, PROTO_LINE_CTRL, 0 },
		{ "X\x1f", 2, PROTO_LINE_CTRL, 1 },
		{ "X\x7f", 2, PROTO_LINE_CTRL, 1 },
		{ "X \x0b", 3, PROTO_LINE_CTRL, 2 },
		{ "ok\r\0", 4, PROTO_LINE_BARE_CR, 2 }, /* first fault wins */
		{ "ok\0\r", 4, PROTO_LINE_NUL, 2 },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t pos = 999;
		enum proto_line_fault f = proto_check_line(rows[i].line, rows[i].len, &pos);

		cr_assert_eq(f, rows[i].fault, "row %zu: fault %d", i, f);
		cr_assert_eq(pos, rows[i].pos, "row %zu: pos %zu", i, pos);
		cr_assert_eq(proto_check_line(rows[i].line, rows[i].len, NULL), f,
			"row %zu: pos_r may be NULL", i);
		cr_assert_not_null(proto_line_fault_str(f));
	}
	cr_assert_str_eq(proto_line_fault_str(PROTO_LINE_NUL), "NUL byte in line");
	cr_assert_str_eq(proto_line_fault_str(PROTO_LINE_BARE_CR), "bare CR in line");
	cr_assert_str_neq(proto_line_fault_str(PROTO_LINE_CTRL),
		proto_line_fault_str(PROTO_LINE_BARE_LF));
}
