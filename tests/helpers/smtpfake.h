/* tests/helpers/smtpfake.h: the fixture of the SMTP session tests: the real
 * kantorpos-smtpd daemon (smtpd_server_ops) in-process on a scratch data
 * dir, sessions on one end of a socketpair, and a scripted client on the
 * other end that sends its input in chunks of a chosen size and collects
 * the replies. Criterion assertions inside; for tests only. */
#ifndef KANTORPOS_TESTS_SMTPFAKE_H
#define KANTORPOS_TESTS_SMTPFAKE_H

#include <stdbool.h>
#include <stddef.h>

struct server;

/* Listener indexes of the generated config (sf_connect). */
#define SF_MX 0
#define SF_SUBMISSION 1 /* submission, plaintext-ok: AUTH without TLS */

/* The state of one test: set up by sf_setup, freed by sf_teardown. */
struct sf_fixture {
	char *dir;           /* scratch directory */
	char *data;          /* DIR/data: the daemon's data_dir */
	struct server *srv;
	int fd;              /* the client's end of the socketpair, or -1 */
	char *out;           /* everything the session wrote (NUL-terminated) */
	size_t len, cap;
	size_t taken;        /* octets of out already returned as replies */
};

extern struct sf_fixture sf;

/* TestSuite .init and .fini. */
void sf_setup(void);
void sf_teardown(void);

/* Write the config (hostname mx.example.test, local domain example.test,
 * users alice and bob with password "secret", alias sales: alice, bob;
 * listeners SF_MX and SF_SUBMISSION) plus extra lines, and start the
 * daemon in-process. */
void sf_start(const char *extra);

/* A new session on listener index `listener`, from 127.0.0.1; the
 * greeting is read and checked. Closes the previous client end. */
void sf_connect(int listener);

/* Send len octets in chunks of `chunk` (0: all at once), letting the
 * session read after each chunk. */
void sf_send(const void *data, size_t len, size_t chunk);

/* Run the loop until n more complete replies have arrived; returns them
 * (CRLF-separated lines, static buffer valid until the next call). */
const char *sf_replies(size_t n);

/* Let the session run without blocking; true when no output beyond the
 * replies already taken has arrived. */
bool sf_quiet(void);

/* True once the session has closed its end (EOF seen). */
bool sf_closed(void);

/* One step of a dialogue: `in` is sent (as is: write the CRLFs), then one
 * reply per '|'-separated prefix of `want` is awaited and each reply
 * (all its lines, CRLF-joined) must start with its prefix. */
struct sf_step {
	const char *in;
	const char *want;
};

/* Connect to `listener` and run steps under every chunking (1, 2, 7 and
 * whole), each in a fresh session; the name labels failures. */
void sf_dialogue(const char *name, int listener, const struct sf_step *steps,
		 size_t n);

/* The same steps once, on the current session, with the given chunk. */
void sf_run_steps(const char *name, const struct sf_step *steps, size_t n,
		  size_t chunk);

/* Messages in the Maildir of user@example.test (new/). */
int sf_count(const char *user);

/* The newest message of user@example.test (heap, NUL-terminated, caller
 * frees; *len_r its size when not NULL). */
char *sf_message(const char *user, size_t *len_r);

#endif
