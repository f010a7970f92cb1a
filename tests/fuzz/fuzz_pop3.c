/* tests/fuzz/fuzz_pop3.c: the POP3 session state machine (pop3d/session,
 * pop3d/commands) over a fake environment, as tests/test_pop3_session.c
 * drives it: no socket, output recorded, logins and UPDATE answered at
 * once. Input: the first byte sets the listener (TLS, STLS offered,
 * plaintext allowed, bad-command limit, output high-water mark); the rest
 * is split into lines at LF ("\r\n" ends a CRLF line). A login succeeds
 * for the password "secret" on a real maildrop of three messages, made
 * once per process in a scratch folder (removed at exit); "busy" gives
 * IN-USE, "slow" THROTTLED, anything else FAIL. UPDATE releases the
 * maildrop unchanged and reports success, so the messages stay.
 *
 * Checked: every line gets an answer unless input is paused, input is
 * never left paused with nothing pending, every LF sent is part of a CRLF,
 * and every reply line that is not part of a multi-line body or a SASL
 * challenge starts with +OK or -ERR. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <string.h>
#include <unistd.h>

#include "common/net/conn.h"
#include "common/base/log.h"
#include "common/proto/proto.h"
#include "pop3d/session.h"
#include "pop3d/commands.h"
#include "store/maildir.h"
#include "store/maildrop.h"

struct fake {
	char *out;
	size_t len, cap, sent;
	bool paused, drain, tls, closed, login, update;
	char pw[64];
	struct mdrop *drop;
};

static char *maildir; /* the scratch maildrop, made on first use */

static int rm_one(const char *path, const struct stat *sb, int type,
		  struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	char *top = strdup(maildir);

	if (top != NULL) {
		*strrchr(top, '/') = '\0';
		(void)nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(top);
	}
	free(maildir);
	maildir = NULL;
}

static void make_maildrop(void)
{
	static const char *const msgs[] = {
		"Subject: one\r\n\r\nhello\r\n.dot line\r\n",
		"Subject: two\n\nbare LF lines\n..\n.\nno end",
		"",
	};
	const char *tmp = getenv("TMPDIR");
	char top[256];

	snprintf(top, sizeof top, "%s/kantorpos-fuzz-pop3-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(top) != NULL);
	maildir = malloc(strlen(top) + 7);
	FUZZ_CHECK(maildir != NULL);
	sprintf(maildir, "%s/alice", top);
	atexit(cleanup);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct md_target t = { maildir, 0, 0 };
		struct md_delivery *d;
		char name[256];

		FUZZ_CHECK(md_delivery_begin(maildir, "fuzz", &d) == MD_OK);
		FUZZ_CHECK(md_delivery_write(d, msgs[i], strlen(msgs[i])) ==
			   MD_OK);
		FUZZ_CHECK(md_delivery_commit(d, &t, 1, NULL, name,
					      sizeof name) == MD_OK);
	}
}

static int f_write(void *env, const void *data, size_t len)
{
	struct fake *f = env;

	if (f->len + len > f->cap) {
		f->cap = (f->len + len) * 2;
		f->out = realloc(f->out, f->cap);
		FUZZ_CHECK(f->out != NULL);
	}
	memcpy(f->out + f->len, data, len);
	f->len += len;
	return 0;
}

static size_t f_pending(void *env)
{
	struct fake *f = env;

	return f->len - f->sent;
}

static void f_drain(void *env) { ((struct fake *)env)->drain = true; }
static void f_pause(void *env) { ((struct fake *)env)->paused = true; }
static void f_resume(void *env) { ((struct fake *)env)->paused = false; }
static void f_close(void *env) { ((struct fake *)env)->closed = true; }

static int f_tls(void *env)
{
	((struct fake *)env)->tls = true;
	return 0;
}

static void f_login(void *env, const char *mech, const char *user,
		    const char *pw, size_t len)
{
	struct fake *f = env;

	FUZZ_CHECK(user != NULL && !f->login);
	FUZZ_CHECK(strcmp(mech, "USER") == 0 || strcmp(mech, "PLAIN") == 0);
	f->login = true;
	snprintf(f->pw, sizeof f->pw, "%.*s", (int)(len < 63 ? len : 63), pw);
}

static void f_update(void *env, struct mdrop *drop)
{
	struct fake *f = env;

	FUZZ_CHECK(!f->update);
	f->update = true;
	f->drop = drop;
}

static const struct pop3_ops fake_ops = {
	f_write, f_pending, f_drain, f_pause, f_resume, f_tls, f_login,
	f_update, f_close,
};

/* Answer what the session waits for; false when it waits for nothing. */
static bool complete(struct pop3_session *s, struct fake *f)
{
	if (f->login) {
		struct mdrop *drop = NULL;

		f->login = false;
		if (strcmp(f->pw, "secret") == 0) {
			if (maildir == NULL)
				make_maildrop();
			FUZZ_CHECK(mdrop_open(maildir, &drop) == 1);
			pop3_session_login_done(s, POP3_LOGIN_OK, drop, "alice");
		} else {
			pop3_session_login_done(s, strcmp(f->pw, "busy") == 0
				? POP3_LOGIN_IN_USE : strcmp(f->pw, "slow") == 0
				? POP3_LOGIN_THROTTLED : POP3_LOGIN_FAIL,
				NULL, NULL);
		}
		return true;
	}
	if (f->update) {
		f->update = false;
		mdrop_release(f->drop);
		pop3_session_update_done(s, 0, 0);
		return true;
	}
	if (f->tls) {
		f->tls = false;
		pop3_session_tls_ready(s);
		return true;
	}
	if (f->drain) {
		/* The socket takes everything queued. */
		f->drain = false;
		f->sent = f->len;
		pop3_session_drain(s);
		return true;
	}
	return false;
}

/* The status line of every reply: replies are "+OK", "-ERR" or a SASL
 * "+ " challenge; multi-line bodies are skipped up to their "." line. */
static void check_output(const char *out, size_t len)
{
	bool body = false;

	for (size_t i = 0; i < len;) {
		const char *nl = memchr(out + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - out) : len, n = end - i;
		const char *l = out + i;

		FUZZ_CHECK(nl == NULL || (end > i && out[end - 1] == '\r'));
		if (body) {
			if (n == 2 && l[0] == '.')
				body = false;
		} else if (nl != NULL) {
			FUZZ_CHECK((n >= 4 && memcmp(l, "+OK", 3) == 0) ||
				   (n >= 5 && memcmp(l, "-ERR", 4) == 0) ||
				   (n >= 2 && memcmp(l, "+ ", 2) == 0));
			/* Multi-line answers: CAPA, UIDL and TOP ("...
			 * follows"), RETR ("+OK N octets"), LIST ("+OK N
			 * messages (M octets)"). */
			body = n >= 5 && memcmp(l, "+OK ", 4) == 0 &&
			       (memmem(l, n, "follows", 7) != NULL ||
				memmem(l, n, " octets\r", 8) == l + n - 8 ||
				(l[4] >= '0' && l[4] <= '9' &&
				 memmem(l, n, " messages (", 11) != NULL));
		}
		i = end + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned limits[] = { 0, 1, 3, 10 };
	struct pop3_session_cfg cfg = { "0123456789abcdef", "192.0.2.1",
					false, false, false, 0, 0 };
	struct fake f = { 0 };
	struct pop3_session *s;
	size_t pos = 1;

	if (size < 1)
		return 0;
	/* The session-end line of every run would drown the fuzzer's own. */
	log_set_level(LOG_LVL_ERROR);
	cfg.tls_active = data[0] & 1;
	cfg.tls_available = data[0] & 2;
	cfg.plaintext_ok = data[0] & 4;
	cfg.bad_command_limit = limits[(data[0] >> 3) & 3];
	cfg.high_water = (data[0] & 0x20) ? 64 : 1 << 20;
	s = pop3_session_new(&fake_ops, &f, &cfg);
	FUZZ_CHECK(s != NULL);
	pop3_session_greet(s);

	while (pos < size && !f.closed) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl != NULL ? (size_t)(nl - data) : size;
		struct conn_line line = { 0 };
		size_t before = f.len;
		int rc;

		line.len = end - pos;
		line.flags = 0;
		if (line.len > 0 && data[end - 1] == '\r' && nl != NULL) {
			line.len--;
			line.flags |= CONN_LINE_CRLF;
		}
		line.data = fuzz_cstr(data + pos, line.len);
		FUZZ_CHECK(line.data != NULL);
		if (memchr(line.data, '\0', line.len) != NULL)
			line.flags |= CONN_LINE_NUL;
		if (line.len > 255 + 2)
			line.flags |= CONN_LINE_OVERLONG;
		pos = end + 1;
		rc = pop3_session_line(s, &line);
		free(line.data);
		FUZZ_CHECK(rc == PROTO_DONE || rc == PROTO_ASYNC ||
			   rc == PROTO_CLOSE);
		if (rc == PROTO_CLOSE)
			break;
		if (rc == PROTO_DONE && !f.paused)
			FUZZ_CHECK(f.len > before || f.closed);
		/* Run what the session waits for until it takes input. */
		for (int i = 0; i < 100000 && complete(s, &f); i++)
			;
		FUZZ_CHECK(!f.paused || f.closed);
		f.sent = f.len;
	}
	pop3_session_free(s);
	check_output(f.out, f.len);
	free(f.out);
	return 0;
}
