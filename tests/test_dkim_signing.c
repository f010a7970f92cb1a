/* tests/test_dkim_signing.c: DKIM signing of submitted mail — the
 * dkim_sign keyword and its errors (FILE:LINE), loading its keys (type,
 * size, unreadable), which configured domain signs a From: domain, the
 * header section as the stage reads it (its end and From: domain, fed in
 * 1-, 2- and 7-octet pieces), and stage_dkim in a real pipeline: mail of
 * an authenticated user stored in a Maildir with one signature per key
 * that common/auth's verifier accepts, a body past the sink's buffer (the
 * placeholder replaced in the file), mail from the outside and From: of
 * another domain left unsigned, and the key record of dkim_sign_record. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/auth/dkim_sign.h"
#include "common/config/config.h"
#include "common/config/config_dkim.h"
#include "common/config/config_load.h"
#include "common/users/userdb.h"
#include "pipeline/pipeline.h"
#include "pipeline/signhdr.h"
#include "pipeline/stage.h"
#include "store/queue.h"
#include "tests/helpers/dkimmsg.h"
#include "tests/helpers/testutil.h"

#define BASE "data_dir /d\nuser_db /u\nlocal_domain example.org\n"

static struct config *parse(const char *text, char **err_r)
{
	return config_parse("t.conf", "/base", text, strlen(text), err_r);
}

/* ---- the keyword ---- */

Test(dkim_config, lines)
{
	char *err = NULL;
	struct config *cfg = parse(BASE
				   "dkim_sign Example.ORG rsa1 keys/rsa1.key\n"
				   "dkim_sign example.org ed.2024 /k/ed.key\n",
				   &err);

	cr_assert_not_null(cfg, "%s", err);
	cr_assert_eq(cfg->n_dkim, 2);
	cr_assert_str_eq(cfg->dkim[0].domain, "example.org");
	cr_assert_str_eq(cfg->dkim[0].selector, "rsa1");
	cr_assert_str_eq(cfg->dkim[0].keyfile, "/base/keys/rsa1.key");
	cr_assert_eq(cfg->dkim[0].line, 4);
	cr_assert_null(cfg->dkim[0].key);
	cr_assert_str_eq(cfg->dkim[1].selector, "ed.2024");
	cr_assert_eq(cfg->dkim[1].line, 5);
	config_free(cfg);
}

Test(dkim_config, errors)
{
	static const struct {
		const char *line, *error;
	} rows[] = {
		{ "dkim_sign example.org sel", "t.conf:4: dkim_sign: expected DOMAIN SELECTOR KEYFILE" },
		{ "dkim_sign example.org a b c", "t.conf:4: dkim_sign: expected DOMAIN SELECTOR KEYFILE" },
		{ "dkim_sign exa_mple.org sel k", "t.conf:4: dkim_sign: expected a domain, got \"exa_mple.org\"" },
		{ "dkim_sign example.org -sel k", "t.conf:4: dkim_sign: expected a selector" },
		{ "dkim_sign example.org sel_1 k", "t.conf:4: dkim_sign: expected a selector" },
		{ "dkim_sign example.org a..b k", "t.conf:4: dkim_sign: expected a selector" },
		{ "dkim_sign example.org sel. k", "t.conf:4: dkim_sign: expected a selector" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[512], *err = NULL;
		struct config *cfg;

		snprintf(text, sizeof(text), BASE "%s\n", rows[i].line);
		cfg = parse(text, &err);
		cr_assert_null(cfg, "%s", rows[i].line);
		cr_assert_not_null(strstr(err, rows[i].error), "%s: %s",
				   rows[i].line, err);
		free(err);
	}
}

Test(dkim_config, keys_per_domain)
{
	char *err = NULL;
	struct config *cfg = parse(BASE
				   "dkim_sign example.org s1 k\n"
				   "dkim_sign example.org s2 k\n"
				   "dkim_sign sub.example.org s3 k\n"
				   "dkim_sign example.org s4 k\n"
				   "dkim_sign example.org s5 k\n"
				   "dkim_sign EXAMPLE.org s6 k\n",
				   &err);

	cr_assert_null(cfg);
	cr_assert_str_eq(err, "t.conf:9: dkim_sign: at most 4 keys for EXAMPLE.org\n");
	free(err);
}

Test(dkim_config, signing_domain)
{
	char *err = NULL;
	struct config *cfg = parse(BASE
				   "dkim_sign example.org s1 k\n"
				   "dkim_sign sub.example.org s2 k\n"
				   "dkim_sign other.test s3 k\n",
				   &err);
	static const struct {
		const char *from, *domain;
	} rows[] = {
		{ "example.org", "example.org" },
		{ "EXAMPLE.Org", "example.org" },
		{ "a.example.org", "example.org" },
		{ "sub.example.org", "sub.example.org" },
		{ "x.Sub.example.org", "sub.example.org" },
		{ "xsub.example.org", "example.org" },
		{ "notexample.org", NULL },
		{ "org", NULL },
		{ "other.test", "other.test" },
		{ "example.org.evil.test", NULL },
		{ "", NULL },
	};

	cr_assert_not_null(cfg, "%s", err);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *d = config_dkim_domain(cfg, rows[i].from);

		if (rows[i].domain == NULL)
			cr_assert_null(d, "%s: %s", rows[i].from, d);
		else
			cr_assert(d != NULL && strcmp(d, rows[i].domain) == 0,
				  "%s: %s", rows[i].from, d ? d : "(none)");
	}
	config_free(cfg);
}

/* ---- the keys ---- */

static void write_key(const char *path, EVP_PKEY *key)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp, "%s", path);
	cr_assert_eq(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	chmod(path, 0600);
}

static EVP_PKEY *new_key(const char *type, size_t bits)
{
	EVP_PKEY *key = strcmp(type, "RSA") == 0
				? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits)
			: strcmp(type, "EC") == 0
				? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
				: EVP_PKEY_Q_keygen(NULL, NULL, type);

	cr_assert_not_null(key, "%s", type);
	return key;
}

Test(dkim_config, load_errors)
{
	char *dir = tu_tmpdir(), *text = NULL, *err = NULL;
	char *good = tu_path(dir, "ed.key"), *small = tu_path(dir, "small.key");
	char *ec = tu_path(dir, "ec.key"), *junk = tu_path(dir, "junk.key");
	EVP_PKEY *k;
	struct config *cfg;

	write_key(good, k = new_key("ED25519", 0));
	EVP_PKEY_free(k);
	write_key(small, k = new_key("RSA", 512));
	EVP_PKEY_free(k);
	write_key(ec, k = new_key("EC", 0));
	EVP_PKEY_free(k);
	tu_write_file(junk, "not a key\n");
	cr_assert_geq(asprintf(&text, BASE
			       "dkim_sign example.org ed %s\n"
			       "dkim_sign example.org small %s\n"
			       "dkim_sign example.org ec %s\n"
			       "dkim_sign example.org junk %s\n"
			       "dkim_sign example.net gone %s/gone.key\n",
			       good, small, ec, junk, dir), 0);
	cfg = parse(text, &err);
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_eq(config_dkim_load(cfg, &err), -1);
	cr_assert_not_null(cfg->dkim[0].key);
	for (size_t i = 1; i < 5; i++)
		cr_assert_null(cfg->dkim[i].key);
	cr_assert_not_null(strstr(err, "t.conf:5: dkim_sign "), "%s", err);
	cr_assert_not_null(strstr(err, ": RSA key of 512 bits (1024 to 4096)\n"), "%s", err);
	cr_assert_not_null(strstr(err, "t.conf:6: dkim_sign "), "%s", err);
	cr_assert_not_null(strstr(err, ": a EC key: expected RSA or Ed25519\n"), "%s", err);
	cr_assert_not_null(strstr(err, "t.conf:7: dkim_sign "), "%s", err);
	cr_assert_not_null(strstr(err, ": no PEM private key in it\n"), "%s", err);
	cr_assert_not_null(strstr(err, "t.conf:8: dkim_sign "), "%s", err);
	cr_assert_not_null(strstr(err, "gone.key: cannot read: No such file or directory\n"), "%s", err);
	cr_assert_null(strstr(err, "t.conf:4:"), "%s", err);
	free(err);
	config_free(cfg);
	tu_rmrf(dir);
	free(dir);
	free(good);
	free(small);
	free(ec);
	free(junk);
	free(text);
}

/* ---- the header section ---- */

/* Feed text in pieces of n: the end offset (from the start of text) of
 * the empty line's CR, or SIZE_MAX when the section never ends. */
static size_t feed_pieces(struct signhdr *h, const char *text, size_t n)
{
	size_t len = strlen(text);

	signhdr_init(h, SIGNHDR_MAX);
	for (size_t at = 0; at < len; at += n) {
		size_t k = len - at < n ? len - at : n, end;

		if (signhdr_feed(h, text + at, k, &end))
			return end == SIZE_MAX ? at - 1 : at + end;
	}
	return SIZE_MAX;
}

Test(dkim_signhdr, end_in_pieces)
{
	static const struct {
		const char *text;
		size_t end;          /* SIZE_MAX: no end */
		const char *fields;  /* the copy kept */
	} rows[] = {
		{ "A: 1\r\nB: 2\r\n\r\nbody\r\n", 12, "A: 1\r\nB: 2\r\n" },
		{ "\r\nbody only\r\n", 0, "" },
		{ "A: 1\r\n folded\r\n\r\n", 15, "A: 1\r\n folded\r\n" },
		{ "A: 1\r\n\rx: 2\r\n\r\n", 13, "A: 1\r\n\rx: 2\r\n" },
		{ "A: 1\r\nB: 2\r\n", SIZE_MAX, "A: 1\r\nB: 2\r\n" },
		{ "A: 1\r\n\r", SIZE_MAX, "A: 1\r\n" },
	};
	static const size_t sizes[] = { 1, 2, 7, 4096 };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct signhdr h;
			size_t end = feed_pieces(&h, rows[i].text, sizes[s]);

			cr_assert_eq(end, rows[i].end, "row %zu by %zu: %zu", i,
				     sizes[s], end);
			cr_assert_eq(h.len, strlen(rows[i].fields),
				     "row %zu by %zu: %zu", i, sizes[s], h.len);
			cr_assert(h.len == 0 ||
				  memcmp(h.buf, rows[i].fields, h.len) == 0,
				  "row %zu by %zu", i, sizes[s]);
			signhdr_free(&h);
		}
}

Test(dkim_signhdr, from_domain)
{
	static const struct {
		const char *hdr, *domain; /* NULL: none */
	} rows[] = {
		{ "From: Alice <alice@Example.ORG>\r\n", "example.org" },
		{ "Subject: x\r\nfrom: alice@example.org (A)\r\n", "example.org" },
		{ "From: \"B, A\" <a@sub.example.org>,\r\n b@SUB.example.org\r\n", "sub.example.org" },
		{ "From: a@example.org, b@other.test\r\n", NULL },
		{ "From: a@example.org\r\nFrom: b@example.org\r\n", NULL },
		{ "Subject: no from\r\n", NULL },
		{ "From: Undisclosed:;\r\n", NULL },
		{ "From: =?utf-8?q?a@example.org?=\r\n", NULL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char dom[ADDR_DOMAIN_MAX + 1];
		int r = signhdr_from_domain(rows[i].hdr, strlen(rows[i].hdr),
					    dom);

		if (rows[i].domain == NULL) {
			cr_assert_eq(r, -1, "%s: %s", rows[i].hdr, dom);
		} else {
			cr_assert_eq(r, 0, "%s", rows[i].hdr);
			cr_assert_str_eq(dom, rows[i].domain);
		}
	}
}

/* ---- the stage in a pipeline ---- */

extern const struct stage stage_dkim;

static char *dir, *data;
static struct config *cfg;
static struct userdb *db;
static struct pipe_env env;
static struct queue *q;
static EVP_PKEY *rsa_key, *ed_key;
static const struct stage *const only_dkim[] = { &stage_dkim, NULL };

static void setup(void)
{
	char *users, *text = NULL, *err = NULL, *rsa, *ed;

	dir = tu_tmpdir();
	data = tu_path(dir, "data");
	cr_assert_eq(mkdir(data, 0700), 0);
	rsa = tu_path(dir, "rsa.key");
	ed = tu_path(dir, "ed.key");
	write_key(rsa, rsa_key = new_key("RSA", 1024));
	write_key(ed, ed_key = new_key("ED25519", 0));
	cr_assert_geq(asprintf(&text,
			       "hostname mx.example.test\ndata_dir %s\n"
			       "user_db users\nlocal_domain example.test\n"
			       "dkim_sign example.test rsa1 %s\n"
			       "dkim_sign example.test ed1 %s\n",
			       data, rsa, ed), 0);
	cfg = config_parse("t.conf", dir, text, strlen(text), &err);
	cr_assert_not_null(cfg, "%s", err != NULL ? err : "");
	cr_assert_eq(config_dkim_load(cfg, &err), 0, "%s", err);
	users = tu_path(dir, "users");
	tu_write_file(users, "alice@example.test:x\n");
	cr_assert_eq(userdb_open(users, &db), 0);
	cr_assert_eq(queue_open(data, "mx.example.test", &q), 0);
	env = (struct pipe_env){ .cfg = cfg, .db = db, .queue = q,
				 .stages = only_dkim };
	free(users);
	free(text);
	free(rsa);
	free(ed);
}

static void teardown(void)
{
	queue_free(q);
	userdb_free(db);
	config_free(cfg);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ed_key);
	tu_rmrf(dir);
	free(dir);
	free(data);
}

TestSuite(dkim_stage, .init = setup, .fini = teardown);

/* Send content in pieces of n as origin (login: an authenticated user)
 * to the path `to`; its notes into notes. */
static void send_to(enum pipe_origin origin, const char *login,
		    const char *to, const char *content, size_t len, size_t n,
		    char *notes, size_t size)
{
	struct pipe_client c = { .addr = "192.0.2.7", .helo = "client" };
	struct pipe_facts f = { origin, &c, "test" };
	struct pipe_tx *tx;
	struct addr_path p;
	const char *from = "<alice@example.test>";

	if (login != NULL)
		snprintf(c.login, sizeof(c.login), "%s", login);
	cr_assert_not_null(tx = pipe_tx_new(&env, &f, NULL, NULL));
	cr_assert_eq(addr_parse_path(from, strlen(from), 0, &p, NULL), 0);
	cr_assert_eq(pipe_tx_mail(tx, &p, NULL), PIPE_DONE);
	cr_assert_eq(addr_parse_path(to, strlen(to), 0, &p, NULL), 0);
	cr_assert_eq(pipe_tx_rcpt(tx, &p), PIPE_DONE);
	cr_assert_eq(pipe_tx_reply(tx)->code, 250);
	cr_assert_eq(pipe_tx_begin(tx, "id1"), PIPE_DONE);
	for (size_t at = 0; at < len; at += n)
		pipe_tx_write(tx, content + at, len - at < n ? len - at : n);
	cr_assert_eq(pipe_tx_end(tx), PIPE_DONE);
	cr_assert_eq(pipe_tx_reply(tx)->code, 250, "%s",
		     pipe_tx_reply(tx)->text);
	snprintf(notes, size, "%s", pipe_tx_msg(tx)->notes);
	pipe_tx_free(tx);
}

/* send_to alice; returns the text stored for her (heap). */
static char *send_in_pieces(enum pipe_origin origin, const char *login,
			    const char *content, size_t len, size_t n,
			    char *notes, size_t size)
{
	char *path, *text, *newdir;
	struct dirent *de;
	DIR *d;

	send_to(origin, login, "<alice@example.test>", content, len, n, notes,
		size);
	newdir = tu_path(data, "mail/example.test/alice/new");
	cr_assert_not_null(d = opendir(newdir));
	while ((de = readdir(d)) != NULL && de->d_name[0] == '.')
		;
	cr_assert_not_null(de);
	path = tu_path(newdir, de->d_name);
	closedir(d);
	text = tu_read_file(path, NULL);
	cr_assert_not_null(text);
	unlink(path);
	free(path);
	free(newdir);
	return text;
}

/* Both signatures of text verify with the keys' records. */
static void assert_signed(const char *text)
{
	char *rsa = dkim_sign_record(rsa_key), *ed = dkim_sign_record(ed_key);
	char d[256], s[256];

	cr_assert(rsa != NULL && ed != NULL);
	for (size_t i = 0; i < 2; i++) {
		const char *why = NULL;
		enum dkim_result r = dkimmsg_verify(text, strlen(text), i,
						    i == 0 ? rsa : ed,
						    time(NULL), &why, d, s);

		cr_assert_eq(r, DKIM_PASS, "signature %zu: %s\n%s", i, why,
			     text);
		cr_assert_str_eq(d, "example.test");
		cr_assert_str_eq(s, i == 0 ? "rsa1" : "ed1");
	}
	{
		const char *why = NULL;

		cr_assert_neq(dkimmsg_verify(text, strlen(text), 2, rsa,
					     time(NULL), &why, d, s),
			      DKIM_PASS);
	}
	free(rsa);
	free(ed);
}

Test(dkim_stage, signs_submitted_mail_in_pieces)
{
	static const char msg[] = "From: Alice <alice@example.test>\r\n"
				  "To: bob@elsewhere.test\r\n"
				  "Subject: signed\r\n\r\n"
				  "body  line\r\n\r\n\r\n";
	static const size_t sizes[] = { 1, 2, 7, sizeof(msg) };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char notes[256];
		char *text = send_in_pieces(PIPE_SUBMISSION,
					    "alice@example.test", msg,
					    strlen(msg), sizes[i], notes,
					    sizeof(notes));
		const char *sig = strstr(text, "DKIM-Signature: ");

		assert_signed(text);
		/* At the end of the header section, after the client's. */
		cr_assert(sig != NULL && sig > strstr(text, "Subject:"),
			  "%s", text);
		cr_assert_not_null(strstr(text, "h=from:from:"), "%s", text);
		cr_assert_not_null(strstr(text, "c=relaxed/relaxed"), "%s", text);
		cr_assert_not_null(strstr(text, " t="), "%s", text);
		cr_assert_str_eq(notes, "dkim=signed d=example.test s=rsa1,ed1");
		cr_assert_not_null(strstr(text, "\r\n\r\nbody  line\r\n"));
		free(text);
	}
}

/* A body past the sink's 64 KiB buffer: the placeholders are in the
 * file already when the signatures replace them. */
Test(dkim_stage, signs_a_large_message)
{
	size_t body = 300 * 1024, head;
	const char *hdr = "From: alice@example.test\r\nSubject: big\r\n\r\n";
	char *msg = malloc(strlen(hdr) + body + 1), notes[256], *text;

	head = strlen(hdr);
	memcpy(msg, hdr, head);
	for (size_t i = 0; i < body; i++)
		msg[head + i] = (i % 64 == 62) ? '\r'
				: (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
	msg[head + body] = '\0';
	text = send_in_pieces(PIPE_SENDMAIL, NULL, msg, head + body, 32768,
			      notes, sizeof(notes));
	assert_signed(text);
	free(text);
	free(msg);
}

/* A message that is all header section (no empty line). */
/* Mail for another domain goes through the queue sink: signed there
 * too, a body past its buffer. */
Test(dkim_stage, signs_queued_mail)
{
	const char *hdr = "From: alice@example.test\r\nSubject: queued\r\n\r\n";
	size_t head = strlen(hdr), body = 200 * 1024;
	char *msg = malloc(head + body + 1), notes[256], *items, *text = NULL;
	struct dirent *de;
	DIR *d;

	memcpy(msg, hdr, head);
	for (size_t i = 0; i < body; i++)
		msg[head + i] = (i % 80 == 78) ? '\r'
				: (i % 80 == 79) ? '\n' : 'q';
	msg[head + body] = '\0';
	send_to(PIPE_SUBMISSION, "alice@example.test", "<bob@remote.example>",
		msg, head + body, 7000, notes, sizeof(notes));
	cr_assert_str_eq(notes, "dkim=signed d=example.test s=rsa1,ed1");
	items = tu_path(data, "queue/items");
	cr_assert_not_null(d = opendir(items), "%s", items);
	while ((de = readdir(d)) != NULL && text == NULL) {
		char *path = NULL;

		if (de->d_name[0] == '.')
			continue;
		cr_assert_geq(asprintf(&path, "%s/%s/msg", items, de->d_name), 0);
		text = tu_read_file(path, NULL);
		free(path);
	}
	closedir(d);
	cr_assert_not_null(text, "nothing queued");
	assert_signed(text);
	free(text);
	free(items);
	free(msg);
}

Test(dkim_stage, signs_a_header_only_message)
{
	static const char msg[] = "From: alice@example.test\r\nSubject: x\r\n";
	char notes[256];
	char *text = send_in_pieces(PIPE_SUBMISSION, "alice@example.test", msg,
				    strlen(msg), 3, notes, sizeof(notes));

	assert_signed(text);
	free(text);
}

Test(dkim_stage, leaves_others_unsigned)
{
	static const struct {
		enum pipe_origin origin;
		const char *login, *msg, *notes;
	} rows[] = {
		/* from the outside: never signed, whatever its From: says */
		{ PIPE_MX, NULL, "From: alice@example.test\r\n\r\nx\r\n", "" },
		{ PIPE_SUBMISSION, NULL, "From: alice@example.test\r\n\r\nx\r\n", "" },
		{ PIPE_DELIVER, NULL, "From: alice@example.test\r\n\r\nx\r\n", "" },
		/* a From: of another domain */
		{ PIPE_SUBMISSION, "alice@example.test",
		  "From: alice@other.test\r\n\r\nx\r\n", "dkim=none" },
		{ PIPE_SENDMAIL, NULL, "From: a@example.test, b@other.test\r\n\r\nx\r\n",
		  "dkim=none" },
		{ PIPE_SENDMAIL, NULL, "Subject: no From\r\n\r\nx\r\n",
		  "dkim=none" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char notes[256];
		char *text = send_in_pieces(rows[i].origin, rows[i].login,
					    rows[i].msg, strlen(rows[i].msg),
					    2, notes, sizeof(notes));

		cr_assert_null(strstr(text, "DKIM-Signature"), "row %zu: %s", i,
			       text);
		cr_assert_str_eq(notes, rows[i].notes, "row %zu", i);
		cr_assert_not_null(strstr(text, rows[i].msg), "row %zu", i);
		free(text);
	}
}

Test(dkim_stage, key_record)
{
	char *rec = dkim_sign_record(ed_key);
	EVP_PKEY *ec = new_key("EC", 0);

	cr_assert_not_null(rec);
	cr_assert_eq(strncmp(rec, "v=DKIM1; k=ed25519; p=", 22), 0, "%s", rec);
	cr_assert_eq(strlen(rec), 22 + 44, "%s", rec);
	free(rec);
	rec = dkim_sign_record(rsa_key);
	cr_assert_eq(strncmp(rec, "v=DKIM1; k=rsa; p=MIGfMA0G", 26), 0, "%s", rec);
	free(rec);
	cr_assert_null(dkim_sign_record(ec));
	EVP_PKEY_free(ec);
}
