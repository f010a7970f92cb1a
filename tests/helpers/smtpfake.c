/* tests/helpers/smtpfake.c: the in-process daemon and scripted, chunked
 * client of the SMTP session tests (see smtpfake.h). */
#include "autoconf.h"

#include "tests/helpers/smtpfake.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "common/config/config.h"
#include "common/base/log.h"
#include "common/users/password.h"
#include "common/runtime/server.h"
#include "common/users/userdb_edit.h"
#include "smtpd/client.h"
#include "smtpd/daemon.h"
#include "tests/helpers/testutil.h"

struct sf_fixture sf;

static const size_t CHUNKINGS[] = { 1, 2, 7, 0 };

void sf_setup(void)
{
	memset(&sf, 0, sizeof(sf));
	log_init("test_smtp_session", true);
	log_set_level(LOG_LVL_WARN);
	sf.fd = -1;
	sf.dir = tu_tmpdir();
	sf.data = tu_path(sf.dir, "data");
}

void sf_teardown(void)
{
	if (sf.fd >= 0)
		close(sf.fd);
	if (sf.srv != NULL) {
		/* Let the sessions see the EOF and free themselves. */
		for (int i = 0; i < 20; i++)
			ev_run(server_loop(sf.srv), EVRUN_NOWAIT);
		server_free(sf.srv);
	}
	tu_rmrf(sf.dir);
	free(sf.dir);
	free(sf.data);
	free(sf.out);
	memset(&sf, 0, sizeof(sf));
}

static void add_user(const char *db, const char *name)
{
	char hash[256];
	const char *why = NULL;

	cr_assert_eq(password_hash("secret", 6, crypto_pwhash_OPSLIMIT_MIN,
				   crypto_pwhash_MEMLIMIT_MIN, hash,
				   sizeof(hash)), 0);
	cr_assert_eq(userdb_add(db, name, hash, &why), 0, "userdb_add: %s",
		     why != NULL ? why : "?");
}

void sf_start(const char *extra)
{
	char *conf = tu_path(sf.dir, "kantorpos.conf");
	char *db = tu_path(sf.dir, "users");
	char *al = tu_path(sf.dir, "aliases");
	char *text = NULL, *err = NULL;

	cr_assert_eq(password_init(), 0);
	tu_write_file(db, "");
	tu_write_file(al, "sales: alice, bob\n");
	add_user(db, "alice@example.test");
	add_user(db, "bob@example.test");
	/* The listeners' ports are free ones that no test connects to: the
	 * sessions arrive over socketpairs. */
	cr_assert_geq(asprintf(&text,
			       "hostname mx.example.test\n"
			       "data_dir %s\nuser_db %s\naliases %s\n"
			       "local_domain example.test\n"
			       "listen smtp 127.0.0.1:%u\n"
			       "listen smtp 127.0.0.1:%u submission plaintext-ok\n"
			       "password_opslimit %llu\npassword_memlimit %zu\n"
			       "login_fail_delay 0\nworkers 2\n%s",
			       sf.data, db, al, tu_free_port(), tu_free_port(),
			       (unsigned long long)crypto_pwhash_OPSLIMIT_MIN,
			       (size_t)crypto_pwhash_MEMLIMIT_MIN,
			       extra != NULL ? extra : ""), 0);
	tu_write_file(conf, text);
	sf.srv = server_new(conf, &smtpd_server_ops, SERVER_KEEP_PRIVS, &err);
	cr_assert_not_null(sf.srv, "server_new: %s", err != NULL ? err : "?");
	free(text);
	free(conf);
	free(db);
	free(al);
}

/* Take what the session wrote; note EOF. */
static bool drain(void)
{
	char buf[65536];
	bool eof = false;

	for (;;) {
		ssize_t n = recv(sf.fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0) {
			eof = true;
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				eof = true;
			break;
		}
		if (sf.len + (size_t)n + 1 > sf.cap) {
			sf.cap = (sf.len + (size_t)n + 1) * 2;
			sf.out = realloc(sf.out, sf.cap);
			cr_assert_not_null(sf.out);
		}
		memcpy(sf.out + sf.len, buf, (size_t)n);
		sf.len += (size_t)n;
		sf.out[sf.len] = '\0';
	}
	return eof;
}

static bool peer_closed(void);

static void spin(void)
{
	for (int i = 0; i < 4; i++)
		ev_run(server_loop(sf.srv), EVRUN_NOWAIT);
	drain();
}

void sf_connect(int listener)
{
	const struct config *cfg = server_config(sf.srv);
	int fds[2];

	cr_assert_lt((size_t)listener, cfg->n_listeners);
	if (sf.fd >= 0) {
		close(sf.fd);
		spin();
	}
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
					 SOCK_CLOEXEC, 0, fds), 0);
	sf.fd = fds[1];
	sf.len = sf.taken = 0;
	if (sf.out != NULL)
		sf.out[0] = '\0';
	smtp_client_accept(sf.srv, &cfg->listeners[listener], fds[0], "127.0.0.1");
	cr_assert(strncmp(sf_replies(1), "220 mx.example.test ", 20) == 0,
		  "greeting: %s", sf.out);
}

void sf_send(const void *data, size_t len, size_t chunk)
{
	const char *p = data;

	if (chunk == 0)
		chunk = len;
	while (len > 0) {
		size_t want = len < chunk ? len : chunk;
		ssize_t n = send(sf.fd, p, want, MSG_NOSIGNAL);

		if (n < 0) {
			cr_assert(errno == EAGAIN || errno == EWOULDBLOCK,
				  "send: %s", strerror(errno));
			ev_run(server_loop(sf.srv), EVRUN_ONCE);
			drain();
			continue;
		}
		p += n;
		len -= (size_t)n;
		spin();
	}
}

/* Complete replies in out after taken; *end_r: where the n-th ends. */
static size_t count_replies(size_t want, size_t *end_r)
{
	size_t i = sf.taken, got = 0;

	while (got < want) {
		const char *nl = sf.out != NULL ? strstr(sf.out + i, "\r\n") : NULL;

		if (nl == NULL)
			break;
		if ((size_t)(nl - (sf.out + i)) < 4 || sf.out[i + 3] != '-')
			got++;
		i = (size_t)(nl - sf.out) + 2;
		*end_r = i;
	}
	return got;
}

const char *sf_replies(size_t n)
{
	static char *last;
	size_t end = sf.taken;

	drain();
	while (count_replies(n, &end) < n) {
		cr_assert(!peer_closed() || count_replies(n, &end) >= n,
			  "closed while waiting for %zu replies; have: %s", n,
			  sf.out != NULL ? sf.out + sf.taken : "");
		ev_run(server_loop(sf.srv), EVRUN_ONCE);
		drain();
	}
	free(last);
	last = strndup(sf.out + sf.taken, end - sf.taken);
	cr_assert_not_null(last);
	sf.taken = end;
	return last;
}

bool sf_quiet(void)
{
	spin();
	return sf.len == sf.taken;
}

/* EOF from the session, as of now. */
static bool peer_closed(void)
{
	char c;
	ssize_t n = recv(sf.fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

bool sf_closed(void)
{
	/* A close after the last reply may need one more turn of the loop:
	 * replies leave at once, the close waits for the write watcher. */
	spin();
	return peer_closed();
}

/* S-EXT-13 (RFC 2034 §3-4): every 2xx/4xx/5xx line after the greeting
 * carries "<class>.<subject>.<detail> " with the class of its code; the
 * EHLO/HELO replies (they start with our hostname) are exempt. */
static void check_enhanced(const char *name, const char *reply, size_t len)
{
	const char *l = reply, *end = reply + len;

	if (len > 4 && strncmp(reply + 4, "mx.example.test ", 16) == 0)
		return;
	while (l < end) {
		const char *p = l + 4;
		int digits;

		if (l[0] == '2' || l[0] == '4' || l[0] == '5') {
			cr_assert(p[0] == l[0] && p[1] == '.', "%s: no enhanced code: %.*s",
				  name, (int)(end - l), l);
			p += 2;
			for (int part = 0; part < 2; part++) {
				for (digits = 0; *p >= '0' && *p <= '9'; p++)
					digits++;
				cr_assert(digits >= 1 && digits <= 3 &&
					  *p == (part == 0 ? '.' : ' '),
					  "%s: bad enhanced code: %.*s", name,
					  (int)(end - l), l);
				p++;
			}
		}
		l = strstr(l, "\r\n") + 2;
	}
}

void sf_run_steps(const char *name, const struct sf_step *steps, size_t n,
		  size_t chunk)
{
	for (size_t i = 0; i < n; i++) {
		char want[1024], *save = NULL, *tok;
		size_t k = 0;
		const char *got;
		const char *line;

		snprintf(want, sizeof(want), "%s", steps[i].want);
		for (const char *c = want; *c != '\0'; c++)
			k += *c == '|';
		k += want[0] != '\0';
		if (steps[i].in[0] != '\0')
			sf_send(steps[i].in, strlen(steps[i].in), chunk);
		got = k > 0 ? sf_replies(k) : "";
		line = got;
		for (tok = strtok_r(want, "|", &save); tok != NULL;
		     tok = strtok_r(NULL, "|", &save)) {
			const char *next = line;

			/* The end of this reply: its last line. */
			for (;;) {
				const char *nl = strstr(next, "\r\n");

				cr_assert_not_null(nl);
				if (nl - next < 4 || next[3] != '-') {
					next = nl + 2;
					break;
				}
				next = nl + 2;
			}
			cr_assert(strncmp(line, tok, strlen(tok)) == 0,
				  "%s (chunk %zu) step %zu [%s]: want \"%s\", got \"%.*s\"",
				  name, chunk, i, steps[i].in, tok,
				  (int)(next - line), line);
			check_enhanced(name, line, (size_t)(next - line));
			line = next;
		}
		cr_assert(sf_quiet(), "%s (chunk %zu) step %zu [%s]: extra output \"%s\"",
			  name, chunk, i, steps[i].in, sf.out + sf.taken);
	}
}

void sf_dialogue(const char *name, int listener, const struct sf_step *steps,
		 size_t n)
{
	for (size_t c = 0; c < sizeof(CHUNKINGS) / sizeof(CHUNKINGS[0]); c++) {
		sf_connect(listener);
		sf_run_steps(name, steps, n, CHUNKINGS[c]);
	}
}

static char *user_new_dir(const char *user)
{
	char *dir = NULL;

	cr_assert_geq(asprintf(&dir, "%s/mail/example.test/%s/new", sf.data,
			       user), 0);
	return dir;
}

int sf_count(const char *user)
{
	char *dir = user_new_dir(user);
	int n = tu_count_dir(dir);

	free(dir);
	return n < 0 ? 0 : n;
}

char *sf_message(const char *user, size_t *len_r)
{
	char *dir = user_new_dir(user), *best = NULL, *path, *text;
	DIR *d = opendir(dir);
	struct dirent *e;

	cr_assert_not_null(d, "no maildir %s", dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (best == NULL || strcmp(e->d_name, best) > 0) {
			free(best);
			best = strdup(e->d_name);
		}
	}
	closedir(d);
	cr_assert_not_null(best, "no message for %s", user);
	path = tu_path(dir, best);
	text = tu_read_file(path, len_r);
	cr_assert_not_null(text);
	free(path);
	free(best);
	free(dir);
	return text;
}
