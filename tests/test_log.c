/* tests/test_log.c: the escaping of log lines and of login names (tables),
 * and the log file: a line appended in the documented format, a reopen
 * after a rename (what logrotate does), and the refusals. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/log_escape.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void)
{
	dir = tu_tmpdir();
	log_init("test_log", true);
}

static void teardown(void)
{
	char err[256];

	cr_assert_eq(log_use_file(NULL, err, sizeof err), 0);
	tu_rmrf(dir);
	free(dir);
}

TestSuite(log, .init = setup, .fini = teardown, .timeout = 30);

Test(log, escape_table)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain ascii line", "plain ascii line" },
		{ "", "" },
		{ "CR\rLF\nESC\x1b[31mTAB\tDEL\x7f", "CR\\x0dLF\\x0aESC\\x1b[31mTAB\\x09DEL\\x7f" },
		{ "back\\slash \\x41 kept", "back\\slash \\x41 kept" },
		/* UTF-8 letters stay as they are. */
		{ "J\xc3\xbcrgen \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xac", "J\xc3\xbcrgen \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xac" },
		/* bidi: RLO, LRE..RLO, LRM, RLM, the isolates, ALM */
		{ "<\xe2\x80\xae" "evil@example.test>", "<\\u202Eevil@example.test>" },
		{ "\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", "\\u202A\\u202B\\u202C\\u202D" },
		{ "a\xe2\x80\x8e" "b\xe2\x80\x8f" "c", "a\\u200Eb\\u200Fc" },
		{ "\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", "\\u2066\\u2067\\u2068\\u2069" },
		{ "\xd8\x9c", "\\u061C" },
		/* C1 controls: U+0080, U+0085 (NEL), U+009B (CSI), U+009F */
		{ "\xc2\x80\xc2\x85\xc2\x9b\xc2\x9f", "\\u0080\\u0085\\u009B\\u009F" },
		/* U+00A0 is a letter-like space: kept */
		{ "\xc2\xa0", "\xc2\xa0" },
		/* zero width, line separator, BOM, a tag character */
		{ "\xe2\x80\x8b\xe2\x80\xa8\xef\xbb\xbf", "\\u200B\\u2028\\uFEFF" },
		{ "\xf3\xa0\x80\x81", "\\U000E0001" },
		/* invalid UTF-8: a lone byte, a cut sequence, overlong,
		 * a surrogate, past U+10FFFF, a lone continuation byte */
		{ "\xff", "\\xff" },
		{ "\xe2\x80", "\\xe2\\x80" },
		{ "\xe2\x80z", "\\xe2\\x80z" },
		{ "\xc0\xaf", "\\xc0\\xaf" },
		{ "\xe0\x80\xaf", "\\xe0\\x80\\xaf" },
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },
		{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" },
		{ "\x80" "a", "\\x80a" },
	};
	char out[256];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t n = log_escape(out, sizeof out, cases[i].in);

		cr_expect_str_eq(out, cases[i].want, "case %zu", i);
		cr_expect_eq(n, strlen(cases[i].want), "case %zu", i);
	}
}

Test(log, escape_never_splits_an_escape_or_a_character)
{
	char out[8];

	/* "ab\x0d" is 6 bytes; the next escape would need 4 more. */
	cr_assert_eq(log_escape(out, sizeof out, "ab\r\r"), 6);
	cr_assert_str_eq(out, "ab\\x0d");
	/* Three 2-byte letters fit in 7 bytes, the fourth does not. */
	cr_assert_eq(log_escape(out, sizeof out, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), 6);
	cr_assert_str_eq(out, "\xc3\xa9\xc3\xa9\xc3\xa9");
	cr_assert_eq(log_escape(out, 1, "abc"), 0);
	cr_assert_str_eq(out, "");
}

Test(log, token_table)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want;
	} cases[] = {
		{ "alice@example.test", 64, "alice@example.test" },
		{ "", 64, "" },
		{ "a b", 64, "a\\x20b" },
		{ "x client=192.0.2.1", 64, "x\\x20client=192.0.2.1" },
		{ "q\"uote\\", 64, "q\\x22uote\\x5c" },
		{ "cr\r\nlf", 64, "cr\\x0d\\x0alf" },
		{ "j\xc3\xbcrgen", 64, "j\\xc3\\xbcrgen" },
		{ "\xe2\x80\xae" "x", 64, "\\xe2\\x80\\xaex" },
		{ "abcdefghij", 10, "abcdefghij" },
		{ "abcdefghijk", 10, "abcdefg..." },
		/* an escape that would cross the cut is left out whole */
		{ "abcdef\x01zzzz", 10, "abcdef..." },
		{ "abcdefg\x01", 10, "abcdefg..." },
		{ "abcdef\x01", 10, "abcdef\\x01" },
	};
	char out[65];

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		log_escape_token(out, cases[i].max, cases[i].in);
		cr_expect_str_eq(out, cases[i].want, "case %zu", i);
		cr_expect_leq(strlen(out), cases[i].max, "case %zu", i);
	}
}

/* The file's text, or "" when it cannot be read. */
static char *slurp(const char *path)
{
	char *text = tu_read_file(path, NULL);

	return text != NULL ? text : strdup("");
}

Test(log, lines_go_to_the_file_in_the_documented_format)
{
	char err[256], *path = tu_path(dir, "kantorpos.log"), *text;
	regex_t re;
	struct stat st;

	cr_assert_eq(log_use_file(path, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(log_file_path(), path);
	cr_assert(!log_on_stderr());
	log_warnx("8baeff8058c3159a login user=a client=192.0.2.7 result=fail");
	log_info("evil \xe2\x80\xae text\r\nforged line");
	log_debug("below the level: not written");
	text = slurp(path);
	cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
			     "[0-9]{2}\\.[0-9]{3}[+-][0-9]{4} test_log\\[[0-9]+\\] "
			     "warn: 8baeff8058c3159a login user=a client=192.0.2.7 "
			     "result=fail\n[^\n]* test_log\\[[0-9]+\\] info: evil "
			     "\\\\u202E text\\\\x0d\\\\x0aforged line\n$",
			     REG_EXTENDED), 0);
	cr_assert_eq(regexec(&re, text, 0, NULL, 0), 0, "%s", text);
	regfree(&re);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0137, 0, "mode %o", st.st_mode & 0777);
	free(text);
	free(path);
}

Test(log, reopen_after_a_rename_writes_to_the_new_file)
{
	char err[256], *path = tu_path(dir, "k.log"), *old = tu_path(dir, "k.log.1");
	char *a, *b;

	cr_assert_eq(log_use_file(path, err, sizeof err), 0, "%s", err);
	log_info("before rotation");
	cr_assert_eq(rename(path, old), 0);
	log_info("still the old file");
	/* The same path again while the file there is the open one: no-op. */
	cr_assert_eq(log_reopen(err, sizeof err), 0, "%s", err);
	log_info("after reopen");
	a = slurp(old);
	b = slurp(path);
	cr_assert_not_null(strstr(a, "before rotation"));
	cr_assert_not_null(strstr(a, "still the old file"));
	cr_assert_null(strstr(a, "after reopen"), "%s", a);
	cr_assert_not_null(strstr(b, "after reopen"), "%s", b);
	cr_assert_null(strstr(b, "before"), "%s", b);
	free(a);
	free(b);
	/* Not rotated: a reopen keeps writing where it did, nothing is lost. */
	cr_assert_eq(log_reopen(err, sizeof err), 0, "%s", err);
	log_info("second line");
	b = slurp(path);
	cr_assert_not_null(strstr(b, "after reopen"), "%s", b);
	cr_assert_not_null(strstr(b, "second line"), "%s", b);
	free(b);
	free(path);
	free(old);
}

Test(log, a_failed_open_keeps_the_old_file)
{
	char err[512], want[512], *path = tu_path(dir, "k.log");
	char *missing = tu_path(dir, "no/such/dir.log");
	char *sym = tu_path(dir, "link.log"), *hard = tu_path(dir, "hard.log");
	char *text;

	cr_assert_eq(log_use_file(path, err, sizeof err), 0, "%s", err);
	cr_assert_eq(log_use_file(missing, err, sizeof err), -1);
	snprintf(want, sizeof want, "log_file %s: No such file or directory",
		 missing);
	cr_assert_str_eq(err, want);
	cr_assert_str_eq(log_file_path(), path);

	cr_assert_eq(symlink(path, sym), 0);
	cr_assert_eq(log_use_file(sym, err, sizeof err), -1);
	snprintf(want, sizeof want, "log_file %s: is a symbolic link; "
		 "refusing it", sym);
	cr_assert_str_eq(err, want);

	cr_assert_eq(link(path, hard), 0);
	cr_assert_eq(log_use_file(hard, err, sizeof err), -1);
	snprintf(want, sizeof want, "log_file %s: has other hard links; "
		 "refusing it", hard);
	cr_assert_str_eq(err, want);

	cr_assert_eq(log_use_file(dir, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "Is a directory"), "%s", err);

	/* A rotation whose new file cannot be made: the old one goes on. */
	cr_assert_eq(unlink(hard), 0);
	cr_assert_eq(rename(path, hard), 0);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(log_reopen(err, sizeof err), -1);
	log_info("kept writing");
	text = slurp(hard);
	cr_assert_not_null(strstr(text, "kept writing"), "%s", text);
	free(text);
	free(path);
	free(missing);
	free(sym);
	free(hard);
}

Test(log, back_to_the_default_sink)
{
	char err[256], *path = tu_path(dir, "k.log"), *text;

	cr_assert_eq(log_use_file(path, err, sizeof err), 0, "%s", err);
	cr_assert_eq(log_use_file(NULL, err, sizeof err), 0);
	cr_assert_null(log_file_path());
	cr_assert(log_on_stderr());
	cr_assert_eq(log_reopen(err, sizeof err), 0);
	log_info("to stderr now");
	text = slurp(path);
	cr_assert_null(strstr(text, "to stderr now"));
	free(text);
	free(path);
}
