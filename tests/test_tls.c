/* tests/test_tls.c: TLS over loopback TCP with a listener and two conns in
 * one loop: STARTTLS with injected plaintext, implicit TLS, client pinning
 * and CA + host name verification; fingerprint parsing; context loading
 * and its error messages. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "common/net/conn.h"
#include "common/net/net.h"
#include "common/net/tls.h"
#include "tests/helpers/testutil.h"
#include "tests/helpers/tlscert.h"

#define BULK 3000

struct side {
	struct conn *c;
	char *lines[16];
	int n;
	bool tls_ready, saw_tls_on_hello;
	int closes, bulk_got;
	enum conn_close_reason reason;
	char detail[200];
	size_t discarded;
	char version[32], cipher[64];
};

static struct {
	struct ev_loop *loop;
	SSL_CTX *sctx, *cctx;
	char *dir, *cert, *key;
	char fp[TLS_FP_STRLEN];
	struct net_listener *lis;
	bool implicit;
	const char *host, *pin;
	struct side srv, cli;
} t;

static void record(struct side *s, const char *line)
{
	cr_assert_lt(s->n, 16);
	s->lines[s->n++] = strdup(line);
}

static void srv_readable(struct conn *c, void *arg)
{
	struct side *s = arg;
	struct conn_line l;
	int i;

	while (conn_next_line(c, &l) == 1) {
		record(s, l.data);
		if (strcmp(l.data, "STARTTLS") == 0) {
			conn_printf(c, "220 ready\r\n");
			cr_assert_eq(conn_start_tls(c, t.sctx, &s->discarded), 0);
			cr_assert_eq(conn_next_line(c, &l), 0,
				     "nothing after the upgrade command");
			return;
		}
		if (strcmp(l.data, "HELLO") == 0) {
			s->saw_tls_on_hello = conn_tls_active(c);
			conn_printf(c, "WORLD tls=%d\r\n", conn_tls_active(c));
			for (i = 0; i < BULK; i++)
				conn_printf(c, "line %04d the quick brown fox\r\n", i);
			conn_printf(c, "END\r\n");
		} else if (strcmp(l.data, "QUIT") == 0) {
			conn_printf(c, "BYE\r\n");
			conn_close_after_flush(c, "quit");
			return;
		}
	}
}

static void srv_tls_ready(struct conn *c, void *arg)
{
	struct side *s = arg;

	s->tls_ready = true;
	if (t.implicit)
		conn_printf(c, "220 hi\r\n");
}

static void side_close(struct conn *c, void *arg, enum conn_close_reason reason,
		       const char *detail)
{
	struct side *s = arg;

	(void)c;
	s->closes++;
	s->reason = reason;
	snprintf(s->detail, sizeof s->detail, "%s", detail);
}

static const struct conn_cb srv_cbs = {
	.on_readable = srv_readable,
	.on_tls_ready = srv_tls_ready,
	.on_close = side_close,
};

static void cli_start_tls(struct conn *c, struct side *s)
{
	cr_assert_eq(conn_start_tls_client(c, t.cctx, t.host, t.pin,
					   &s->discarded), 0);
}

static void cli_readable(struct conn *c, void *arg)
{
	struct side *s = arg;
	struct conn_line l;

	while (conn_next_line(c, &l) == 1) {
		if (strncmp(l.data, "line ", 5) == 0) {
			s->bulk_got++;
			continue;
		}
		record(s, l.data);
		if (strcmp(l.data, "220 ready") == 0) {
			cli_start_tls(c, s);
			return;
		}
		if (strcmp(l.data, "220 hi") == 0)
			conn_printf(c, "HELLO\r\n");
		else if (strcmp(l.data, "END") == 0)
			conn_printf(c, "QUIT\r\n");
	}
}

static void cli_connected(struct conn *c, void *arg)
{
	if (t.implicit)
		cli_start_tls(c, arg);
	else
		/* One write: the injected line travels with STARTTLS. */
		conn_printf(c, "STARTTLS\r\nINJECTED\r\n");
}

static void cli_tls_ready(struct conn *c, void *arg)
{
	struct side *s = arg;

	s->tls_ready = true;
	cr_assert(conn_tls_active(c));
	snprintf(s->version, sizeof s->version, "%s", conn_tls_version(c));
	snprintf(s->cipher, sizeof s->cipher, "%s", conn_tls_cipher(c));
	if (!t.implicit)
		conn_printf(c, "HELLO\r\n");
}

static const struct conn_cb cli_cbs = {
	.on_readable = cli_readable,
	.on_connected = cli_connected,
	.on_tls_ready = cli_tls_ready,
	.on_close = side_close,
};

static void on_accept(int fd, const char *peer, void *arg)
{
	(void)arg;
	cr_assert_str_eq(peer, "127.0.0.1");
	cr_assert_null(t.srv.c, "one connection only");
	t.srv.c = conn_new(t.loop, fd, &srv_cbs, &t.srv);
	cr_assert_not_null(t.srv.c);
	conn_set_timeout(t.srv.c, 10);
	if (t.implicit)
		cr_assert_eq(conn_start_tls(t.srv.c, t.sctx, NULL), 0);
}

static void setup(void)
{
	char err[256];

	signal(SIGPIPE, SIG_IGN);
	memset(&t, 0, sizeof t);
	t.dir = tu_tmpdir();
	tu_make_cert(t.dir, &t.cert, &t.key, t.fp);
	t.loop = ev_loop_new(EVFLAG_AUTO);
	t.sctx = tls_server_ctx_new(t.cert, t.key, err, sizeof err);
	cr_assert_not_null(t.sctx, "%s", err);
	t.cctx = tls_client_ctx_new(t.cert, err, sizeof err);
	cr_assert_not_null(t.cctx, "%s", err);
	cr_assert_eq(net_listen(t.loop, "127.0.0.1:0", 16, on_accept, NULL,
				&t.lis, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
	int i;

	for (i = 0; i < t.srv.n; i++)
		free(t.srv.lines[i]);
	for (i = 0; i < t.cli.n; i++)
		free(t.cli.lines[i]);
	net_listener_free(t.lis);
	SSL_CTX_free(t.sctx);
	SSL_CTX_free(t.cctx);
	ev_loop_destroy(t.loop);
	tu_rmrf(t.dir);
	free(t.dir);
	free(t.cert);
	free(t.key);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 30);

/* Connect the client and run until both sides closed. */
static void run_session(void)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)net_listener_port(t.lis));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t.cli.c = conn_connect(t.loop, (struct sockaddr *)&sin, sizeof sin,
			       &cli_cbs, &t.cli);
	cr_assert_not_null(t.cli.c);
	conn_set_timeout(t.cli.c, 10);
	while (t.cli.closes == 0 || t.srv.closes == 0)
		ev_run(t.loop, EVRUN_ONCE);
}

static void assert_full_dialogue(void)
{
	cr_assert(t.cli.tls_ready && t.srv.tls_ready);
	cr_assert(t.srv.saw_tls_on_hello);
	cr_assert_eq(strncmp(t.cli.version, "TLSv1.", 6), 0, "%s", t.cli.version);
	cr_assert_neq(strcmp(t.cli.version, "TLSv1.1"), 0);
	cr_assert_neq(t.cli.cipher[0], '\0');
	cr_assert_eq(t.cli.bulk_got, BULK, "every line of the burst arrived");
	cr_assert_str_eq(t.cli.lines[t.cli.n - 1], "BYE");
	cr_assert_eq(t.srv.reason, CONN_CLOSE_LOCAL);
	cr_assert_eq(t.cli.reason, CONN_CLOSE_EOF, "%s", t.cli.detail);
}

Test(tls, starttls_discards_injected_plaintext)
{
	t.pin = t.fp;
	run_session();
	cr_assert_eq(t.srv.n, 3);
	cr_assert_str_eq(t.srv.lines[0], "STARTTLS");
	cr_assert_str_eq(t.srv.lines[1], "HELLO", "the injected line never ran");
	cr_assert_str_eq(t.srv.lines[2], "QUIT");
	cr_assert_eq(t.srv.discarded, strlen("INJECTED\r\n"));
	cr_assert_eq(t.cli.discarded, 0);
	cr_assert_str_eq(t.cli.lines[0], "220 ready");
	cr_assert_str_eq(t.cli.lines[1], "WORLD tls=1");
	assert_full_dialogue();
}

Test(tls, implicit_tls)
{
	t.implicit = true;
	t.pin = t.fp;
	run_session();
	cr_assert_eq(t.srv.n, 2);
	cr_assert_str_eq(t.srv.lines[0], "HELLO");
	cr_assert_str_eq(t.cli.lines[0], "220 hi");
	assert_full_dialogue();
}

Test(tls, wrong_pin_is_refused)
{
	static char wrong[TLS_FP_STRLEN];

	snprintf(wrong, sizeof wrong, "%s", t.fp);
	wrong[7] = wrong[7] == 'A' ? 'B' : 'A';
	t.implicit = true;
	t.pin = wrong;
	run_session();
	cr_assert_not(t.cli.tls_ready);
	cr_assert_eq(t.cli.reason, CONN_CLOSE_TLS);
	cr_assert_not_null(strstr(t.cli.detail, "fingerprint"), "%s", t.cli.detail);
	cr_assert_eq(t.srv.n, 0, "no application data reached the server");
}

Test(tls, ca_and_host_name_verified)
{
	t.implicit = true;
	t.host = "localhost";
	run_session();
	assert_full_dialogue();
}

Test(tls, ip_address_verified)
{
	t.implicit = true;
	t.host = "127.0.0.1";
	run_session();
	assert_full_dialogue();
}

Test(tls, wrong_host_name_is_refused)
{
	t.implicit = true;
	t.host = "mail.elsewhere.test";
	run_session();
	cr_assert_not(t.cli.tls_ready);
	cr_assert_eq(t.cli.reason, CONN_CLOSE_TLS);
	cr_assert_not_null(strstr(t.cli.detail, "verification failed"), "%s",
			   t.cli.detail);
	cr_assert_eq(t.srv.n, 0);
}

Test(tls, untrusted_certificate_is_refused)
{
	char err[256];

	SSL_CTX_free(t.cctx);
	t.cctx = tls_client_ctx_new(NULL, err, sizeof err);
	cr_assert_not_null(t.cctx, "%s", err);
	t.implicit = true;
	t.host = "localhost";
	run_session();
	cr_assert_not(t.cli.tls_ready);
	cr_assert_eq(t.cli.reason, CONN_CLOSE_TLS);
	cr_assert_eq(t.srv.n, 0);
}

Test(tls, client_refuses_to_verify_nothing)
{
	struct conn *c;
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = conn_new(t.loop, sv[0], &cli_cbs, &t.cli);
	cr_assert_eq(conn_start_tls_client(c, t.cctx, NULL, NULL, NULL), -1);
	cr_assert_eq(conn_start_tls_client(c, t.cctx, NULL, "sha256:zz", NULL), -1);
	cr_assert_not(conn_tls_active(c));
	cr_assert_null(conn_tls_version(c));
	conn_close(c, NULL);
	ev_run(t.loop, EVRUN_ONCE);
	cr_assert_eq(t.cli.closes, 1);
	close(sv[1]);
}

Test(tls, fingerprint_parse_table)
{
	static const char hex64[] =
		"000102030405060708090A0B0C0D0E0F"
		"101112131415161718191A1B1C1D1E1F";
	char colon[TLS_FP_STRLEN], lower[TLS_FP_STRLEN], bare[80], back[TLS_FP_STRLEN];
	unsigned char fp[TLS_FP_LEN];
	size_t i;

	for (i = 0; i < TLS_FP_LEN; i++)
		fp[i] = (unsigned char)i;
	tls_fp_format(fp, colon, sizeof colon);
	cr_assert_eq(strncmp(colon, "sha256:00:01:02", 15), 0, "%s", colon);
	snprintf(bare, sizeof bare, "sha256:%s", hex64);
	for (i = 0; colon[i] != '\0'; i++)
		lower[i] = (char)(colon[i] >= 'A' && colon[i] <= 'F' ? colon[i] + 32 : colon[i]);
	lower[i] = '\0';

	struct {
		const char *in;
		int rc;
	} rows[] = {
		{ colon, 0 },
		{ lower, 0 },
		{ bare, 0 },
		{ "SHA256:00:01", -1 },
		{ "sha1:00:01:02", -1 },
		{ "00:01:02", -1 },
		{ "sha256:", -1 },
		{ "", -1 },
	};
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		unsigned char out[TLS_FP_LEN];

		memset(out, 0xee, sizeof out);
		cr_assert_eq(tls_fp_parse(rows[i].in, out), rows[i].rc, "row %zu: %s",
			     i, rows[i].in);
		if (rows[i].rc == 0) {
			cr_assert_eq(memcmp(out, fp, TLS_FP_LEN), 0, "row %zu", i);
			tls_fp_format(out, back, sizeof back);
			cr_assert_str_eq(back, colon);
		}
	}

	/* Malformed variants of a valid string. */
	char bad[6][TLS_FP_STRLEN + 16];

	snprintf(bad[0], sizeof bad[0], "%s:", colon);          /* trailing colon */
	snprintf(bad[1], sizeof bad[1], "%s:FF", colon);        /* 33 bytes */
	snprintf(bad[2], sizeof bad[2], "%.*s", (int)strlen(colon) - 3, colon); /* 31 */
	snprintf(bad[3], sizeof bad[3], "sha256::%s", colon + 7); /* leading colon */
	snprintf(bad[4], sizeof bad[4], "%s", colon);
	bad[4][10] = ':'; /* doubled colon: "00::01" */
	snprintf(bad[5], sizeof bad[5], "%s", colon);
	bad[5][8] = 'G'; /* not hex */
	for (i = 0; i < 6; i++)
		cr_assert_eq(tls_fp_parse(bad[i], fp), -1, "bad %zu: %s", i, bad[i]);
}

Test(tls, server_context_errors_and_reload)
{
	char err[256], *missing = tu_path(t.dir, "missing.pem");
	SSL_CTX *ctx, *before;

	ctx = tls_server_ctx_new(missing, t.key, err, sizeof err);
	cr_assert_null(ctx);
	cr_assert_not_null(strstr(err, "missing.pem"), "%s", err);
	/* key file given as certificate: no certificate in it */
	cr_assert_null(tls_server_ctx_new(t.key, t.key, err, sizeof err));

	ctx = tls_server_ctx_new(t.cert, t.key, err, sizeof err);
	cr_assert_not_null(ctx, "%s", err);
	before = ctx;
	cr_assert_eq(tls_server_reload(&ctx, missing, t.key, err, sizeof err), -1);
	cr_assert_eq(ctx, before, "failed reload keeps the old context");
	SSL_CTX_up_ref(before); /* stands for a connection still using it */
	cr_assert_eq(tls_server_reload(&ctx, t.cert, t.key, err, sizeof err), 0, "%s", err);
	cr_assert_neq(ctx, before);
	cr_assert_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	cr_assert(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	SSL_CTX_free(before);
	SSL_CTX_free(ctx);
	free(missing);
}

/* Start-up and reload errors name the file and the cause in words. */
Test(tls, load_errors_name_the_file_and_the_reason)
{
	char err[1024], want[1024], *other_dir = tu_path(t.dir, "other");
	char *missing = tu_path(t.dir, "missing.pem");
	char *garbage = tu_path(t.dir, "garbage.pem");
	char *other_cert, *other_key, fp[TLS_FP_STRLEN];

	cr_assert_eq(mkdir(other_dir, 0700), 0);
	tu_make_cert(other_dir, &other_cert, &other_key, fp);
	tu_write_file(garbage, "this is not a certificate\n");

	cr_assert_null(tls_server_ctx_new(missing, t.key, err, sizeof err));
	snprintf(want, sizeof want, "tls_cert %s: No such file or directory",
		 missing);
	cr_assert_str_eq(err, want);

	cr_assert_null(tls_server_ctx_new(garbage, t.key, err, sizeof err));
	snprintf(want, sizeof want, "tls_cert %s: no start line "
		 "(Expecting: TRUSTED CERTIFICATE)", garbage);
	cr_assert_str_eq(err, want);

	cr_assert_null(tls_server_ctx_new(t.cert, missing, err, sizeof err));
	snprintf(want, sizeof want, "tls_key %s: No such file or directory",
		 missing);
	cr_assert_str_eq(err, want);

	cr_assert_null(tls_server_ctx_new(t.cert, other_key, err, sizeof err));
	snprintf(want, sizeof want, "tls_key %s does not match tls_cert %s: "
		 "key values mismatch", other_key, t.cert);
	cr_assert_str_eq(err, want);

	cr_assert_null(tls_client_ctx_new(missing, err, sizeof err));
	snprintf(want, sizeof want, "CA file %s: No such file or directory",
		 missing);
	cr_assert_str_eq(err, want);
	cr_assert_eq(ERR_peek_error(), 0, "the error queue is drained");
	free(other_dir);
	free(other_cert);
	free(other_key);
	free(missing);
	free(garbage);
}

/* The formatter alone: an empty queue, a system error, a wrapper entry
 * dropped beside its cause, and a buffer too small for everything. */
Test(tls, errstr_formats_the_queue)
{
	char buf[64];

	ERR_clear_error();
	cr_assert_str_eq(tls_errstr("x", buf, sizeof buf),
			 "x: unknown TLS error");
	cr_assert_str_eq(tls_errstr(NULL, buf, sizeof buf),
			 "unknown TLS error");

	ERR_raise(ERR_LIB_SYS, EACCES);
	ERR_raise(ERR_LIB_BIO, ERR_R_SYS_LIB);
	ERR_raise(ERR_LIB_SSL, ERR_R_SYS_LIB);
	cr_assert_str_eq(tls_errstr("f", buf, sizeof buf),
			 "f: Permission denied");

	/* Alone, a wrapper is all there is to show. */
	ERR_raise(ERR_LIB_SSL, ERR_R_PEM_LIB);
	cr_assert_str_eq(tls_errstr("f", buf, sizeof buf), "f: PEM lib");

	ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_PRIVATE_KEY_ASSIGNED);
	cr_assert_str_eq(tls_errstr(NULL, buf, sizeof buf),
			 "key values mismatch; no private key assigned");

	for (int i = 0; i < 20; i++)
		ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_PRIVATE_KEY_ASSIGNED);
	cr_assert_str_eq(tls_errstr("a fairly long description of the failure",
				    buf, 48),
			 "a fairly long description of the failure: key v");
	cr_assert_eq(ERR_peek_error(), 0, "a long queue is drained too");
}
