/* tests/test_smtp_params.c: ESMTP MAIL/RCPT parameters (SIZE, BODY,
 * SMTPUTF8, AUTH=, and DSN's RET, ENVID, NOTIFY, ORCPT), xtext, and reply
 * line formatting. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mail/xtext.h"
#include "smtpd/params.h"
#include "smtpd/reply.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void) { dir = tu_tmpdir(); }
static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(smtp_params, .init = setup, .fini = teardown);

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

Test(smtp_params, mail_table)
{
	static const struct {
		const char *in;
		int code; /* 0: accepted */
		uint64_t size;
		enum params_body body;
		bool utf8;
		const char *auth;
	} rows[] = {
		{ "", 0, 0, PARAMS_BODY_NONE, false, NULL },
		{ "   ", 0, 0, PARAMS_BODY_NONE, false, NULL },
		{ "SIZE=1000", 0, 1000, PARAMS_BODY_NONE, false, NULL },
		{ "size=1000 body=8bitmime", 0, 1000, PARAMS_BODY_8BITMIME, false, NULL },
		{ "BODY=7BIT", 0, 0, PARAMS_BODY_7BIT, false, NULL },
		{ "BODY=BINARYMIME  SMTPUTF8", 0, 0, PARAMS_BODY_BINARYMIME, true, NULL },
		{ "AUTH=<>", 0, 0, PARAMS_BODY_NONE, false, "<>" },
		{ "AUTH=e+3Dmc2@example.com", 0, 0, PARAMS_BODY_NONE, false,
		  "e=mc2@example.com" },
		{ "SIZE=10485760", 0, 10485760, PARAMS_BODY_NONE, false, NULL },
		{ "SIZE=10485761", 552, 0, 0, false, NULL },
		{ "SIZE=abc", 501, 0, 0, false, NULL },
		{ "SIZE=", 501, 0, 0, false, NULL },
		{ "SIZE", 501, 0, 0, false, NULL },
		{ "SIZE=-1", 501, 0, 0, false, NULL },
		{ "SIZE=99999999999999999999", 552, 0, 0, false, NULL },
		{ "SIZE=999999999999999999999", 501, 0, 0, false, NULL },
		{ "SIZE=10 SIZE=10", 501, 0, 0, false, NULL },
		{ "BODY=FOO", 501, 0, 0, false, NULL },
		{ "BODY=8BITMIME BODY=7BIT", 501, 0, 0, false, NULL },
		{ "SMTPUTF8=yes", 501, 0, 0, false, NULL },
		{ "SMTPUTF8 SMTPUTF8", 501, 0, 0, false, NULL },
		{ "AUTH=a+2", 501, 0, 0, false, NULL },
		{ "AUTH=a+zz", 501, 0, 0, false, NULL },
		{ "FOO=bar", 555, 0, 0, false, NULL },
		{ "=x", 501, 0, 0, false, NULL },
		{ "-X", 501, 0, 0, false, NULL },
		{ "X=a=b", 501, 0, 0, false, NULL },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct params_mail p;
		struct params_error err = { 0 };
		int rc = params_parse_mail(rows[i].in, strlen(rows[i].in), 10485760,
					   &p, &err);

		if (rows[i].code == 0) {
			cr_assert_eq(rc, 0, "row %zu: %d %s", i, err.code,
				     err.why ? err.why : "");
			cr_assert_eq(p.has_size, rows[i].size != 0, "row %zu", i);
			cr_assert_eq(p.size, rows[i].size, "row %zu", i);
			cr_assert_eq(p.body, rows[i].body, "row %zu", i);
			cr_assert_eq(p.smtputf8, rows[i].utf8, "row %zu", i);
			cr_assert_eq(p.has_auth, rows[i].auth != NULL, "row %zu", i);
			if (rows[i].auth != NULL)
				cr_assert_str_eq(p.auth, rows[i].auth, "row %zu", i);
		} else {
			cr_assert_eq(rc, -1, "row %zu", i);
			cr_assert_eq(err.code, rows[i].code, "row %zu: %d", i, err.code);
			cr_assert(reply_enh_ok(err.code, err.enh), "row %zu", i);
		}
	}
}

Test(smtp_params, size_without_limit)
{
	struct params_mail p;
	struct params_error err;
	const char *in = "SIZE=18446744073709551615";

	cr_assert_eq(params_parse_mail(in, strlen(in), 0, &p, &err), 0);
	cr_assert_eq(p.size, UINT64_MAX);
}

/* RFC 3461 §4.3, §4.4: RET and ENVID. */
Test(smtp_params, mail_dsn_table)
{
	static char long_envid[DSN_ENVID_MAX + 16];
	static const struct {
		const char *in;
		int code; /* 0: accepted */
		enum dsn_ret ret;
		const char *envid; /* as kept */
	} rows[] = {
		{ "RET=FULL", 0, DSN_RET_FULL, "" },
		{ "ret=hdrs", 0, DSN_RET_HDRS, "" },
		{ "RET=HDRS ENVID=QQ+2B1", 0, DSN_RET_HDRS, "QQ+2B1" },
		{ "ENVID=a+20b SIZE=10 RET=full", 0, DSN_RET_FULL, "a+20b" },
		{ "envid=Case.Kept", 0, DSN_RET_NONE, "Case.Kept" },
		{ "RET=FULL RET=FULL", 501, 0, NULL },
		{ "RET=HDRS RET=FULL", 501, 0, NULL },
		{ "RET=", 501, 0, NULL },
		{ "RET", 501, 0, NULL },
		{ "RET=BODY", 501, 0, NULL },
		{ "ENVID", 501, 0, NULL },
		{ "ENVID=", 501, 0, NULL },
		{ "ENVID=a ENVID=b", 501, 0, NULL },
		{ "ENVID=a+2", 501, 0, NULL },
		{ "ENVID=a+2b", 501, 0, NULL },
		{ "ENVID=a+0D+0AX", 501, 0, NULL },  /* CR LF once decoded */
		{ "ENVID=a+C3+A9", 501, 0, NULL },   /* not ASCII */
		{ "ENVID=a=b", 501, 0, NULL },
		{ NULL, 501, 0, NULL },              /* 101 characters */
		{ NULL, 0, DSN_RET_NONE, NULL },     /* 100 characters */
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct params_mail p;
		struct params_error err = { 0 };
		char in[sizeof(long_envid) + 8];
		const char *envid = rows[i].envid;

		if (rows[i].in != NULL) {
			snprintf(in, sizeof(in), "%s", rows[i].in);
		} else {
			size_t n = rows[i].code ? DSN_ENVID_MAX + 1 : DSN_ENVID_MAX;

			memset(long_envid, 'x', n);
			long_envid[n] = '\0';
			snprintf(in, sizeof(in), "ENVID=%s", long_envid);
			envid = long_envid;
		}
		int rc = params_parse_mail(in, strlen(in), 0, &p, &err);

		if (rows[i].code != 0) {
			cr_assert_eq(rc, -1, "row %zu", i);
			cr_assert_eq(err.code, rows[i].code, "row %zu: %d", i,
				     err.code);
			cr_assert_str_eq(err.enh, "5.5.4", "row %zu", i);
			continue;
		}
		cr_assert_eq(rc, 0, "row %zu: %s", i, err.why ? err.why : "");
		cr_assert_eq(p.ret, rows[i].ret, "row %zu", i);
		cr_assert_str_eq(p.envid, envid, "row %zu", i);
	}
}

/* RFC 3461 §4.1, §4.2: NOTIFY and ORCPT. */
Test(smtp_params, rcpt_table)
{
	static char long_orcpt[DSN_ORCPT_MAX + 16];
	static const struct {
		const char *in;
		int code; /* 0: accepted */
		unsigned notify;
		const char *orcpt; /* as kept */
	} rows[] = {
		{ "", 0, 0, "" },
		{ "  ", 0, 0, "" },
		{ "NOTIFY=NEVER", 0, DSN_NOTIFY_NEVER, "" },
		{ "notify=never", 0, DSN_NOTIFY_NEVER, "" },
		{ "NOTIFY=SUCCESS", 0, DSN_NOTIFY_SUCCESS, "" },
		{ "NOTIFY=SUCCESS,FAILURE", 0,
		  DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE, "" },
		{ "NOTIFY=delay,Failure,SUCCESS", 0,
		  DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY, "" },
		{ "ORCPT=rfc822;a@b", 0, 0, "rfc822;a@b" },
		{ "ORCPT=rfc822;alice+2Btag@example.test NOTIFY=FAILURE", 0,
		  DSN_NOTIFY_FAILURE, "rfc822;alice+2Btag@example.test" },
		{ "ORCPT=RFC822;a+20b@c", 0, 0, "RFC822;a+20b@c" },
		{ "ORCPT=x-local;anything", 0, 0, "x-local;anything" },
		{ "ORCPT=rfc822;a;b", 0, 0, "rfc822;a;b" },
		{ "NOTIFY=NEVER,SUCCESS", 501, 0, NULL },
		{ "NOTIFY=FAILURE,NEVER", 501, 0, NULL },
		{ "NOTIFY=SUCCESS,SUCCESS", 501, 0, NULL },
		{ "NOTIFY=SUCCESS,", 501, 0, NULL },
		{ "NOTIFY=,SUCCESS", 501, 0, NULL },
		{ "NOTIFY=ALWAYS", 501, 0, NULL },
		{ "NOTIFY=", 501, 0, NULL },
		{ "NOTIFY", 501, 0, NULL },
		{ "NOTIFY=NEVER NOTIFY=NEVER", 501, 0, NULL },
		{ "ORCPT=rfc822;a@b ORCPT=rfc822;a@b", 501, 0, NULL },
		{ "ORCPT=rfc822", 501, 0, NULL },
		{ "ORCPT=;a@b", 501, 0, NULL },
		{ "ORCPT=rfc822;", 501, 0, NULL },
		{ "ORCPT=rfc(822);a@b", 501, 0, NULL },
		{ "ORCPT=rfc\"822;a@b", 501, 0, NULL },
		{ "ORCPT=rfc822;a+2", 501, 0, NULL },
		{ "ORCPT=rfc822;a+zzb", 501, 0, NULL },
		{ "ORCPT=rfc822;a+0Ab", 501, 0, NULL },
		{ "ORCPT", 501, 0, NULL },
		{ "FOO=bar", 555, 0, NULL },
		{ "NOTIFY=NEVER FOO", 555, 0, NULL },
		{ "=", 501, 0, NULL },
		{ NULL, 501, 0, NULL },  /* 501 characters */
		{ NULL, 0, 0, NULL },    /* 500 characters */
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct params_rcpt p;
		struct params_error err = { 0 };
		const char *in = rows[i].in, *orcpt = rows[i].orcpt;

		if (in == NULL) {
			size_t n = rows[i].code ? DSN_ORCPT_MAX + 1 : DSN_ORCPT_MAX;

			/* "ORCPT=" and a value of n characters */
			snprintf(long_orcpt, sizeof(long_orcpt), "ORCPT=rfc822;");
			memset(long_orcpt + 13, 'y', n - 7);
			long_orcpt[6 + n] = '\0';
			in = long_orcpt;
			orcpt = long_orcpt + 6;
		}
		int rc = params_parse_rcpt(in, strlen(in), &p, &err);

		cr_assert_eq(rc, rows[i].code ? -1 : 0, "row %zu: %s", i,
			     err.why ? err.why : "");
		if (rc < 0) {
			cr_assert_eq(err.code, rows[i].code, "row %zu", i);
			cr_assert_str_eq(err.enh, "5.5.4", "row %zu", i);
			cr_assert(reply_enh_ok(err.code, err.enh), "row %zu", i);
			continue;
		}
		cr_assert_eq(p.notify, rows[i].notify, "row %zu", i);
		cr_assert_str_eq(p.orcpt, orcpt, "row %zu", i);
		/* The result is optional. */
		cr_assert_eq(params_parse_rcpt(in, strlen(in), NULL, NULL), 0);
	}
}

Test(smtp_params, xtext_table)
{
	static const struct {
		const char *in;
		int len;
		const char *out;
	} rows[] = {
		{ "abc", 3, "abc" }, { "a+2Bb", 3, "a+b" }, { "+3D", 1, "=" },
		{ "a+2b", -1, NULL }, { "a+", -1, NULL }, { "a=b", -1, NULL },
		{ "a b", -1, NULL }, { "", 0, "" },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char out[16];
		int n = xtext_decode(rows[i].in, strlen(rows[i].in), out,
					    sizeof(out));

		cr_assert_eq(n, rows[i].len, "row %zu", i);
		if (n >= 0)
			cr_assert_str_eq(out, rows[i].out, "row %zu", i);
	}
	cr_assert_eq(xtext_decode("abcdef", 6, (char[4]){ 0 }, 4), -1);
	/* What a DSN field can carry: printable ASCII once decoded. */
	cr_assert_eq(xtext_decode_printable("a+20b", 5, (char[8]){ 0 }, 8), 3);
	cr_assert_eq(xtext_decode_printable("a+0Db", 5, (char[8]){ 0 }, 8), -1);
	cr_assert_eq(xtext_decode_printable("a+7Fb", 5, (char[8]){ 0 }, 8), -1);
	cr_assert_eq(xtext_decode_printable("+FF", 3, (char[8]){ 0 }, 8), -1);
	cr_assert_eq(xtext_decode_printable("a+", 2, (char[8]){ 0 }, 8), -1);
}

Test(smtp_params, reply_format_table)
{
	static const struct {
		int code;
		const char *enh;
		int more;
		const char *text;
		const char *out;
	} rows[] = {
		{ 250, "2.0.0", 0, "OK", "250 2.0.0 OK\r\n" },
		{ 250, NULL, 1, "PIPELINING", "250-PIPELINING\r\n" },
		{ 550, "5.1.1", 0, "no\r\nsuch", "550 5.1.1 no  such\r\n" },
		{ 220, NULL, 0, "", "220 \r\n" },
	};
	char buf[600];

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t n = reply_format(buf, sizeof(buf), rows[i].code, rows[i].enh,
					rows[i].more, "%s", rows[i].text);

		cr_assert_eq(n, strlen(rows[i].out), "row %zu", i);
		cr_assert_str_eq(buf, rows[i].out, "row %zu", i);
	}
	/* Long text is cut to 512 octets with CRLF. */
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(reply_format(buf, sizeof(buf), 250, "2.0.0", 0, "%s", big),
		     REPLY_LINE_MAX - 1);
	cr_assert_str_eq(buf + REPLY_LINE_MAX - 3, "\r\n");
	cr_assert_eq(reply_format(buf, sizeof(buf), 199, NULL, 0, "x"), 0);
}

Test(smtp_params, enhanced_code_table)
{
	static const struct {
		int code;
		const char *enh;
		int ok;
	} rows[] = {
		{ 250, "2.0.0", 1 }, { 550, "5.1.1", 1 }, { 452, "4.5.3", 1 },
		{ 550, "4.1.1", 0 }, { 250, "2.0", 0 }, { 250, "2.0.0.", 0 },
		{ 250, "2.1000.0", 0 }, { 354, "3.0.0", 0 }, { 250, NULL, 0 },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++)
		cr_assert_eq(reply_enh_ok(rows[i].code, rows[i].enh), rows[i].ok,
			     "row %zu", i);
}

/* BDAT arguments (RFC 3030 §2): 1*DIGIT [SP "LAST"], nothing else. */
Test(smtp_params, bdat_table)
{
	static const struct {
		const char *in;
		int code; /* 0: accepted */
		uint64_t size;
		bool last;
	} rows[] = {
		{ "0", 0, 0, false },
		{ "5", 0, 5, false },
		{ "0 LAST", 0, 0, true },
		{ "12 last", 0, 12, true },
		{ "0012 LaSt", 0, 12, true },
		{ "18446744073709551615", 0, UINT64_MAX, false },
		{ "18446744073709551616", 552, 0, false },
		{ "99999999999999999999 LAST", 552, 0, false },
		{ "-1", 501, 0, false },
		{ "0x10", 501, 0, false },
		{ "+5", 501, 0, false },
		{ " 5", 501, 0, false },
		{ "5x", 501, 0, false },
		{ "", 501, 0, false },
		{ " ", 501, 0, false },
		{ "000000000000000000001", 501, 0, false },
		{ "999999999999999999999", 501, 0, false },
		{ "5 ", 501, 0, false },
		{ "5  LAST", 501, 0, false },
		{ "5 LAST ", 501, 0, false },
		{ "5 LAST LAST", 501, 0, false },
		{ "5 FIRST", 501, 0, false },
		{ "5 LASTX", 501, 0, false },
		{ "LAST", 501, 0, false },
		{ "5,0", 501, 0, false },
		{ "1e3", 501, 0, false },
	};

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct params_error err = { 0 };
		uint64_t size = 42;
		bool last = false;
		int rc = params_parse_bdat(rows[i].in, &size, &last, &err);

		if (rows[i].code == 0) {
			cr_assert_eq(rc, 0, "row %zu: %s", i, err.why ? err.why : "");
			cr_assert_eq(size, rows[i].size, "row %zu", i);
			cr_assert_eq(last, rows[i].last, "row %zu", i);
		} else {
			cr_assert_eq(rc, -1, "row %zu", i);
			cr_assert_eq(err.code, rows[i].code, "row %zu: %d", i, err.code);
			cr_assert_str_eq(err.enh, rows[i].code == 501 ? "5.5.4" : "5.3.4",
					 "row %zu", i);
		}
	}
}
