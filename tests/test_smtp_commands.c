/* tests/test_smtp_commands.c: the SMTP command table as a state machine —
 * which verb is allowed in which state (RFC 5321 §4.1.4), unknown verbs,
 * case-insensitivity — through the shared proto engine. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/commands.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(smtp_commands, .init = setup, .fini = teardown);

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* F: found, W: wrong state (503), U: unknown (500). */
Test(smtp_commands, verb_by_state)
{
	static const struct {
		const char *verb;
		const char *expect; /* one letter per state INIT..QUIT */
	} rows[] = {
		/*               I R M R D B A B Q
		 *               N E A C A D U U U
		 *               I A I P T A T S I */
		{ "EHLO",     "FFFFWWWWW" },
		{ "helo",     "FFFFWWWWW" },
		{ "MAIL",     "WFWWWWWWW" },
		{ "RCPT",     "WWFFWWWWW" },
		{ "DATA",     "WWFFWWWWW" },
		{ "BDAT",     "FFFFWWWWW" },
		{ "RSET",     "FFFFWWWWW" },
		{ "NOOP",     "FFFFWWWWW" },
		{ "Quit",     "FFFFWWWWW" },
		{ "VRFY",     "FFFFWWWWW" },
		{ "EXPN",     "FFFFWWWWW" },
		{ "HELP",     "FFFFWWWWW" },
		{ "STARTTLS", "FFWWWWWWW" },
		{ "AUTH",     "WFWWWWWWW" },
		{ "TURN",     "UUUUUUUUU" },
		{ "ETRN",     "WFWWWWWWW" },
		{ "MAIL\tFROM", "UUUUUUUUU" },
		{ "",         "UUUUUUUUU" },
	};
	const struct proto_cmd *table = smtp_command_table();

	cr_assert_eq(strlen(rows[0].expect), SMTP_S_COUNT);
	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (unsigned st = 0; st < SMTP_S_COUNT; st++) {
			const struct proto_cmd *cmd = NULL;
			enum proto_lookup_result r =
				proto_lookup(table, rows[i].verb, st, &cmd);
			char got = r == PROTO_FOUND ? 'F'
				   : r == PROTO_WRONG_STATE ? 'W' : 'U';

			cr_assert_eq(got, rows[i].expect[st],
				     "%s in %s: got %c", rows[i].verb,
				     smtp_state_name(st), got);
			if (r != PROTO_UNKNOWN)
				cr_assert_not_null(cmd);
		}
}

Test(smtp_commands, table_is_well_formed)
{
	const struct proto_cmd *t = smtp_command_table();
	size_t n = 0;

	for (; t[n].verb != NULL; n++) {
		cr_assert_not_null(t[n].run, "%s", t[n].verb);
		cr_assert_neq(t[n].states, 0, "%s", t[n].verb);
		/* Content, SASL and busy states never take commands. */
		cr_assert_eq(t[n].states & (PROTO_STATE(SMTP_S_DATA) |
					    PROTO_STATE(SMTP_S_BDAT) |
					    PROTO_STATE(SMTP_S_AUTH) |
					    PROTO_STATE(SMTP_S_BUSY) |
					    PROTO_STATE(SMTP_S_QUIT)), 0,
			     "%s", t[n].verb);
		for (size_t k = 0; k < n; k++)
			cr_assert_neq(strcmp(t[k].verb, t[n].verb), 0, "%s twice",
				      t[n].verb);
	}
	cr_assert_eq(n, 15);
	cr_assert_str_eq(smtp_state_name(SMTP_S_RCPT), "RCPT");
	cr_assert_str_eq(smtp_state_name(SMTP_S_COUNT), "?");
}
