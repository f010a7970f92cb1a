/* sendmail/main.c: kantorpos-sendmail, the sendmail(1) interface for
 * scripts, cron and mail clients. Not set-user-ID: the message goes into
 * the drop directory (store/drop.h) as a file of the calling user, who is
 * its sender; kantorpos-smtpd's pickup takes it into the pipeline, now or
 * once it runs. Exit 0 only once the file is durable; otherwise a
 * sysexits(3) status and one line on standard error. */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/config/config.h"
#include "common/config/config_load.h"
#include "common/mail/address.h"
#include "pipeline/sender.h"
#include "sendmail/args.h"
#include "sendmail/message.h"
#include "store/drop.h"
#include "store/drop_env.h"

#define PROG "kantorpos-sendmail"
#define SM_READ (64 * 1024)

struct sm_run {
	const struct config *cfg;
	struct sm_args a;
	char user[64];
	unsigned long uid;
	char from[ADDR_TEXT_SIZE]; /* the sender, for an added From: */
	struct drop_env env;
	struct drop_writer *w;
	bool said;                 /* a sink said why it stopped */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " [-t] [-i] [-f SENDER] [-F NAME] [-B 7BIT|8BITMIME]\n"
		"       [-C CONF] [ADDRESS...] < MESSAGE\n"
		"Hand the message on standard input to kantorpos-smtpd (now, or\n"
		"when it next runs) for the ADDRESSes and, with -t, for those of\n"
		"its To, Cc and Bcc fields. -i: a line with a single dot does not\n"
		"end the message. -f: another sender (root, run_as and\n"
		"sendmail_trusted_users only). Exit status (sysexits.h): 0 queued,\n"
		"64 usage, 65 bad address, no recipient or message too big, 71\n"
		"system error, 73 cannot create the file, 75 temporary failure,\n"
		"77 sender not allowed, 78 configuration.\n");
}

static int fail(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One line on standard error; returns status. */
static int fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* An address as given on the command line or with -f: "<...>" and blanks
 * around it dropped, qualified with sendmail_domain when it has no "@".
 * Returns 0, or EX_DATAERR after saying why. */
static int parse_addr(const struct sm_run *r, const char *in,
		      struct addr_mailbox *mb)
{
	char buf[ADDR_TEXT_SIZE + ADDR_DOMAIN_MAX + 2];
	size_t len = strlen(in);
	struct addr_error err;
	int n;

	while (len > 0 && (*in == ' ' || *in == '<')) {
		in++;
		len--;
	}
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '>'))
		len--;
	n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)len, in,
		     memchr(in, '@', len) != NULL ? "" : "@",
		     memchr(in, '@', len) != NULL ? "" : r->cfg->sendmail_domain);
	if (len == 0 || n < 0 || (size_t)n >= sizeof(buf) ||
	    addr_parse_mailbox(buf, (size_t)n, ADDR_OPT_UTF8, mb, &err) < 0)
		return fail(EX_DATAERR, "%s: not an address", in);
	return 0;
}

/* -f: the null sender, or a mailbox the user may use (pipeline/sender.h:
 * the daemons' account is the drop directory's owner). */
static int take_sender(struct sm_run *r)
{
	const char *s = r->a.sender;
	struct stat st;
	unsigned long daemon = (unsigned long)-1;
	int rc;

	r->env.has_sender = true;
	if (s[strspn(s, " <>")] == '\0')
		r->env.null_sender = true;
	else if ((rc = parse_addr(r, s, &r->env.sender)) != 0)
		return rc;
	if (!r->env.null_sender)
		addr_mailbox_text(&r->env.sender, r->from, sizeof(r->from));
	if (stat(r->cfg->drop_dir, &st) == 0)
		daemon = (unsigned long)st.st_uid;
	if (sender_local_allowed(r->cfg, r->user, r->uid, daemon, r->from))
		return 0;
	return fail(EX_NOPERM, "-f %s: only root, %s and sendmail_trusted_users "
		    "may send as another address than %s@%s", s,
		    r->cfg->run_as != NULL ? r->cfg->run_as
					   : "the daemons' account",
		    r->user, r->cfg->sendmail_domain);
}

/* The recipients of the command line, each argument an address or a
 * comma-separated list of them. */
static int take_rcpts(struct sm_run *r)
{
	for (size_t i = 0; i < r->a.n_rcpts; i++) {
		char *list = strdup(r->a.rcpts[i]), *save = NULL, *one;
		int rc = list == NULL ? EX_OSERR : 0;

		for (one = list != NULL ? strtok_r(list, ",", &save) : NULL;
		     one != NULL && rc == 0; one = strtok_r(NULL, ",", &save)) {
			struct addr_mailbox *grown = realloc(
				r->env.rcpts,
				(r->env.n_rcpts + 1) * sizeof(*grown));

			if (grown == NULL) {
				rc = EX_OSERR;
				break;
			}
			r->env.rcpts = grown;
			rc = parse_addr(r, one, &grown[r->env.n_rcpts]);
			if (rc == 0)
				r->env.n_rcpts++;
		}
		free(list);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* A write into the drop file failed: a temporary failure. */
static int write_failed(struct sm_run *r)
{
	return fail(EX_TEMPFAIL, "%s: cannot write the message: %s",
		    r->cfg->drop_dir, strerror(errno));
}

/* A recipient's key and place, for finding the repeated ones. */
struct keyed {
	char key[ADDR_KEY_SIZE];
	size_t at;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

/* Each mailbox once, the first of each kept in its place (the command
 * line and To/Cc/Bcc may repeat one). */
static int dedup(struct drop_env *env)
{
	struct keyed *k = calloc(env->n_rcpts, sizeof(*k));
	bool *drop = calloc(env->n_rcpts, sizeof(*drop));
	size_t n = 0;

	if (env->n_rcpts > 0 && (k == NULL || drop == NULL)) {
		free(k);
		free(drop);
		return -1;
	}
	for (size_t i = 0; i < env->n_rcpts; i++) {
		/* A mailbox without a key stays: the pickup says why. */
		if (addr_key(&env->rcpts[i], k[i].key, sizeof(k[i].key), NULL) < 0)
			snprintf(k[i].key, sizeof(k[i].key), "%zu", i);
		k[i].at = i;
	}
	qsort(k, env->n_rcpts, sizeof(*k), keyed_cmp);
	for (size_t i = 1; i < env->n_rcpts; i++)
		if (strcmp(k[i].key, k[i - 1].key) == 0)
			drop[k[i].at] = true;
	for (size_t i = 0; i < env->n_rcpts; i++)
		if (!drop[i])
			env->rcpts[n++] = env->rcpts[i];
	env->n_rcpts = n;
	free(k);
	free(drop);
	return 0;
}

static int header(struct sm_run *r, const struct sm_header *h);

/* The header section is known: the envelope, then the section. */
static int on_header(void *arg, const struct sm_header *h)
{
	struct sm_run *r = arg;
	int rc = header(r, h);

	r->said = rc != 0;
	return rc;
}

static int header(struct sm_run *r, const struct sm_header *h)
{
	struct addr_mailbox *grown;
	char *text;
	size_t len;
	int rc;

	if (h->n_rcpts > 0) {
		grown = realloc(r->env.rcpts, (r->env.n_rcpts + h->n_rcpts) *
						      sizeof(*grown));
		if (grown == NULL)
			return EX_OSERR;
		memcpy(grown + r->env.n_rcpts, h->rcpts,
		       h->n_rcpts * sizeof(*grown));
		r->env.rcpts = grown;
		r->env.n_rcpts += h->n_rcpts;
	}
	if (r->env.n_rcpts > r->cfg->max_recipients)
		return fail(EX_DATAERR, "%zu recipients: more than "
			    "max_recipients %llu", r->env.n_rcpts,
			    r->cfg->max_recipients);
	if (dedup(&r->env) < 0)
		return fail(EX_OSERR, "out of memory");
	if (r->env.n_rcpts == 0)
		return fail(EX_DATAERR, "no recipients%s",
			    r->a.extract ? " (none in To, Cc or Bcc either)" : "");
	r->env.eightbit = r->a.body == SM_BODY_8BITMIME;
	if (drop_env_format(&r->env, &text, &len) < 0)
		return fail(EX_DATAERR, "an address is too long");
	rc = drop_write(r->w, text, len) < 0 || drop_write(r->w, h->text,
							    h->len) < 0
		     ? write_failed(r) : 0;
	free(text);
	return rc;
}

static int on_body(void *arg, const char *buf, size_t len)
{
	struct sm_run *r = arg;

	r->said = drop_write(r->w, buf, len) < 0;
	return r->said ? write_failed(r) : 0;
}

/* Standard input into the drop file, its size within max_message_size. */
static int copy_message(struct sm_run *r)
{
	struct sm_msg_opts o = { r->a.ignore_dots, r->a.extract,
				 r->cfg->sendmail_domain, r->from,
				 r->a.full_name };
	struct sm_msg_sink sink = { on_header, on_body, r };
	struct sm_msg *m = sm_msg_new(&o, &sink);
	char *buf = malloc(SM_READ);
	ssize_t n = 1;
	int rc = m == NULL || buf == NULL ? EX_OSERR : 0;

	while (rc == 0 && !sm_msg_ended(m) &&
	       (n = read(STDIN_FILENO, buf, SM_READ)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = fail(EX_TEMPFAIL, "reading the message: %s",
				  strerror(errno));
		else
			rc = sm_msg_feed(m, buf, (size_t)n);
		if (rc == 0 && sm_msg_size(m) > r->cfg->max_message_size)
			rc = EX_DATAERR;
	}
	if (rc == 0)
		rc = sm_msg_finish(m);
	if (rc == 0 && sm_msg_size(m) > r->cfg->max_message_size)
		rc = EX_DATAERR;
	if (rc == EX_DATAERR && sm_msg_size(m) > r->cfg->max_message_size)
		fail(rc, "message too big: more than %llu octets "
		     "(max_message_size)",
		     (unsigned long long)r->cfg->max_message_size);
	else if (rc == EX_DATAERR && !r->said)
		fail(rc, "the header section is longer than %d octets",
		     SM_HEADER_MAX);
	else if (rc == EX_OSERR && !r->said)
		fail(rc, "out of memory");
	if (rc == 0 && r->a.body == SM_BODY_UNSAID && sm_msg_eightbit(m) &&
	    drop_rewrite(r->w, (off_t)DROP_ENV_BODY_AT, "8", 1) < 0)
		rc = write_failed(r);
	sm_msg_free(m);
	free(buf);
	return rc;
}

/* Create the file; why it cannot be, as a status. */
static int create(struct sm_run *r)
{
	int e;

	if (drop_create(r->cfg->drop_dir, &r->w) == 0)
		return 0;
	e = errno;
	fail(0, "%s: cannot create a file: %s%s", r->cfg->drop_dir, strerror(e),
	     e == ENOENT ? " (kantorpos-smtpd makes it when it starts)" : "");
	return e == ENOSPC || e == EDQUOT || e == EIO || e == EAGAIN
		       ? EX_TEMPFAIL : EX_CANTCREAT;
}

static int run(struct sm_run *r)
{
	const struct passwd *pw;
	int rc;

	r->uid = (unsigned long)getuid();
	if ((pw = getpwuid(getuid())) == NULL ||
	    strlen(pw->pw_name) >= sizeof(r->user))
		return fail(EX_OSERR, "uid %lu has no account", r->uid);
	snprintf(r->user, sizeof(r->user), "%s", pw->pw_name);
	snprintf(r->from, sizeof(r->from), "%s@%s", r->user,
		 r->cfg->sendmail_domain);
	if ((r->a.sender != NULL && (rc = take_sender(r)) != 0) ||
	    (rc = take_rcpts(r)) != 0 || (rc = create(r)) != 0)
		return rc;
	if ((rc = copy_message(r)) != 0) {
		drop_abort(r->w);
		return rc;
	}
	if (drop_commit(r->w) < 0)
		return write_failed(r);
	return 0;
}

int main(int argc, char **argv)
{
	struct sm_run r = { 0 };
	char *err = NULL;
	int rc;

	if ((rc = sm_args_parse(argc, argv, &r.a)) != 0) {
		fprintf(stderr, PROG ": %s\n", r.a.err);
		usage(stderr);
		return rc;
	}
	if (r.a.help) {
		usage(stdout);
		return 0;
	}
	r.cfg = config_load(r.a.config != NULL ? r.a.config
					       : CONFIG_DEFAULT_PATH, &err);
	if (r.cfg == NULL) {
		fprintf(stderr, "%s", err != NULL ? err : PROG ": out of memory\n");
		free(err);
		return EX_CONFIG;
	}
	rc = run(&r);
	drop_env_free(&r.env);
	config_free((struct config *)r.cfg);
	return rc;
}
