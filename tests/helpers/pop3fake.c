/* tests/helpers/pop3fake.c: the fake POP3 environment and scratch maildir
 * of the session tests (see pop3fake.h). */
#include "autoconf.h"

#include "tests/helpers/pop3fake.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3d/commands.h"
#include "store/maildir.h"
#include "store/maildrop.h"
#include "tests/helpers/testutil.h"

static int f_write(void *env, const void *data, size_t len)
{
	struct pf_fake *f = env;

	if (f->len + len + 1 > f->cap) {
		f->cap = (f->len + len + 1) * 2;
		f->out = realloc(f->out, f->cap);
		cr_assert_not_null(f->out);
	}
	memcpy(f->out + f->len, data, len);
	f->len += len;
	f->out[f->len] = '\0';
	if (f->len - f->sent > f->max_pending)
		f->max_pending = f->len - f->sent;
	return 0;
}

static size_t f_pending(void *env)
{
	struct pf_fake *f = env;

	return f->len - f->sent;
}

static void f_drain(void *env)
{
	((struct pf_fake *)env)->drains++;
}

static void f_pause(void *env)
{
	((struct pf_fake *)env)->paused = true;
}

static void f_resume(void *env)
{
	((struct pf_fake *)env)->paused = false;
}

static int f_tls(void *env)
{
	((struct pf_fake *)env)->tls++;
	return 0;
}

static void f_login(void *env, const char *mech, const char *user,
		    const char *pw, size_t len)
{
	struct pf_fake *f = env;

	f->logins++;
	snprintf(f->mech, sizeof f->mech, "%s", mech);
	snprintf(f->user, sizeof f->user, "%s", user);
	cr_assert_lt(len, sizeof f->pw);
	memcpy(f->pw, pw, len);
	f->pw[len] = '\0';
	f->pwlen = len;
}

static void f_update(void *env, struct mdrop *drop)
{
	struct pf_fake *f = env;

	f->updates++;
	f->update_drop = drop;
}

static void f_close(void *env)
{
	((struct pf_fake *)env)->closed++;
}

const struct pop3_ops pf_ops = {
	f_write, f_pending, f_drain, f_pause, f_resume, f_tls, f_login,
	f_update, f_close,
};

struct pf_fixture pf;

void pf_setup(void)
{
	pf.dir = tu_tmpdir();
	pf.md = tu_path(pf.dir, "alice");
	memset(&pf.fk, 0, sizeof pf.fk);
	pf.sess = NULL;
}

void pf_teardown(void)
{
	pop3_session_free(pf.sess);
	free(pf.fk.out);
	tu_rmrf(pf.dir);
	free(pf.md);
	free(pf.dir);
}

void pf_deliver(const char *text)
{
	struct md_target t = { pf.md, 0, 0 };
	struct md_delivery *d;
	char name[256];

	cr_assert_eq(md_delivery_begin(pf.md, "h", &d), MD_OK);
	if (*text != '\0')
		cr_assert_eq(md_delivery_write(d, text, strlen(text)), MD_OK);
	cr_assert_eq(md_delivery_commit(d, &t, 1, NULL, name, sizeof name),
		     MD_OK);
}

void pf_start(bool tls_active, bool tls_available, bool plain_ok,
	      unsigned bad_limit)
{
	struct pop3_session_cfg cfg = {
		"0123456789abcdef", "127.0.0.1", tls_active, tls_available,
		plain_ok, bad_limit, 0,
	};

	pf.sess = pop3_session_new(&pf_ops, &pf.fk, &cfg);
	cr_assert_not_null(pf.sess);
	pop3_session_greet(pf.sess);
}

/* Output since the last call; the "socket" takes everything. */
const char *pf_take(void)
{
	static char buf[1 << 16];
	size_t n = pf.fk.len - pf.fk.taken;

	cr_assert_lt(n, sizeof buf, "unexpectedly long output");
	memcpy(buf, pf.fk.out ? pf.fk.out + pf.fk.taken : "", n);
	buf[n] = '\0';
	pf.fk.taken = pf.fk.sent = pf.fk.len;
	return buf;
}

/* Feed one line (given without its CRLF). */
int pf_line_n(const char *text, size_t len, unsigned flags)
{
	char *copy = malloc(len + 1);
	struct conn_line l;
	int rc;

	cr_assert_not_null(copy);
	memcpy(copy, text, len);
	copy[len] = '\0';
	l.data = copy;
	l.len = len;
	l.flags = flags;
	rc = pop3_session_line(pf.sess, &l);
	free(copy);
	return rc;
}

int pf_line(const char *text)
{
	return pf_line_n(text, strlen(text), CONN_LINE_CRLF);
}

/* Send a line and check the whole reply. */
void pf_chat(const char *in, const char *expected)
{
	int rc = pf_line(in);

	cr_expect_eq(rc, PROTO_DONE, "outcome of \"%s\"", in);
	cr_expect_str_eq(pf_take(), expected, "reply to \"%s\"", in);
}

static const char *const msg1 = "Subject: one\r\n\r\nbody 1\r\n.dot\r\n";
static const char *const msg2 = "Subject: two\n\nline a\nline b\nline c\n";

/* Log in as alice over a plaintext-ok connection with two messages. */
void pf_login(void)
{
	struct mdrop *drop;

	pf_deliver(msg1);
	pf_deliver(msg2);
	pf_start(false, false, true, 0);
	pf_take();
	pf_chat("USER alice", "+OK send PASS\r\n");
	cr_assert_eq(pf_line("PASS pw"), PROTO_ASYNC);
	cr_assert(pf.fk.paused);
	cr_assert_eq(mdrop_open(pf.md, &drop), 1);
	pop3_session_login_done(pf.sess, POP3_LOGIN_OK, drop, "alice");
	cr_assert_not(pf.fk.paused);
	cr_assert_str_eq(pf_take(), "+OK maildrop locked and ready, 2 messages "
			 "(70 octets)\r\n");
}

int pf_count_messages(void)
{
	char *n = tu_path(pf.md, "new"), *c = tu_path(pf.md, "cur");
	int total = tu_count_dir(n) + tu_count_dir(c);

	free(n);
	free(c);
	return total;
}
