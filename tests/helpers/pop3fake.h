/* tests/helpers/pop3fake.h: the fixture of the POP3 session tests: a fake
 * environment (struct pop3_ops) that records output and the login and
 * UPDATE requests, a scratch maildir, and helpers to feed lines and compare
 * replies. Criterion assertions inside; for tests only. */
#ifndef KANTORPOS_TESTS_POP3FAKE_H
#define KANTORPOS_TESTS_POP3FAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "pop3d/session.h"

/* What the fake environment saw. */
struct pf_fake {
	char *out;        /* everything written (NUL-terminated) */
	size_t len, cap;
	size_t sent;      /* bytes the "socket" has taken */
	size_t taken;     /* bytes the test has looked at */
	size_t max_pending;
	bool paused;
	int drains;
	int tls;
	int closed;
	int logins;
	char mech[16];    /* the last login request */
	char user[300];
	char pw[300];
	size_t pwlen;
	int updates;
	struct mdrop *update_drop; /* the last UPDATE request (test owns it) */
};

/* The state of one test: set up by pf_setup, freed by pf_teardown. */
struct pf_fixture {
	char *dir;                /* scratch directory */
	char *md;                 /* DIR/alice: the maildir */
	struct pf_fake fk;
	struct pop3_session *sess;
};

extern struct pf_fixture pf;
extern const struct pop3_ops pf_ops;

/* TestSuite .init and .fini. */
void pf_setup(void);
void pf_teardown(void);

/* Deliver text (as is) into pf.md. */
void pf_deliver(const char *text);

/* A new pf.sess on the fake environment, greeting queued. */
void pf_start(bool tls_active, bool tls_available, bool plain_ok,
	      unsigned bad_limit);

/* Output since the last call (a static buffer); the "socket" takes it. */
const char *pf_take(void);

/* Feed one line (without its CRLF) with conn_line flags; returns the
 * session's outcome. pf_line: a normal CRLF line. */
int pf_line_n(const char *text, size_t len, unsigned flags);
int pf_line(const char *text);

/* Feed a line, expect PROTO_DONE and exactly expected as the output. */
void pf_chat(const char *in, const char *expected);

/* Two messages (30 and 40 octets as sent) and alice logged in over a
 * plaintext-ok connection. */
void pf_login(void);

/* Files in pf.md's new/ and cur/. */
int pf_count_messages(void);

#endif
