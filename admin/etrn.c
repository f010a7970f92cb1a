/* admin/etrn.c: `kantorpos etrn` — the client side of RFC 1985: ask an
 * upstream server to release the mail it holds for our domain, once from
 * the command line or for every etrn_request of the configuration
 * (--scheduled, for cron or a systemd timer). Uses the outbound SMTP
 * client; the password comes from stdin/prompt or a private file (the
 * rule of every password file, common/config/secret.h). */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "admin/admin.h"
#include "common/config/config.h"
#include "common/config/config_value.h"
#include "common/config/secret.h"
#include "common/net/net.h"
#include "common/client/smtpclient.h"
#include "common/net/tls.h"
#include "common/net/worker.h"

struct etrn_job {
	const char *host;
	unsigned port;
	const char *domain;
	bool starttls;
	const char *user;
	char *password; /* wiped and freed by the caller */
	/* results */
	bool etrn_sent, replied;
	int code;
	int status;
	bool done;
};

static void etrn_usage(FILE *out)
{
	fprintf(out,
		"usage: kantorpos [-c CONF] etrn HOST[:PORT] DOMAIN [--starttls] [--auth USER]\n"
		"       kantorpos [-c CONF] etrn --scheduled\n"
		"Ask HOST (port 25 by default) to send the mail it holds for\n"
		"DOMAIN (or @DOMAIN: the domain and its subdomains) with ETRN\n"
		"(RFC 1985), and print its reply. --starttls requires TLS with a\n"
		"certificate verified for HOST (tls_ca_file or the system store);\n"
		"--auth logs in with AUTH PLAIN (or LOGIN; needs --starttls), the\n"
		"password from standard input or a prompt. --scheduled sends ETRN\n"
		"for every etrn_request of the configuration. Exit status: 0 on a\n"
		"25x reply, 1 on a 5xx reply (to ETRN or the login), 75 on a 4xx\n"
		"reply or no connection.\n");
}

/* After the login (the client's AUTH, when there is a user): ETRN, then
 * QUIT. */
static void on_ready(struct smtpc *s, void *arg)
{
	struct etrn_job *j = arg;
	char line[1024];

	if (!j->etrn_sent) {
		j->etrn_sent = true;
		snprintf(line, sizeof(line), "ETRN %s", j->domain);
		smtpc_command(s, line, false);
		return;
	}
	smtpc_quit(s);
}

static void on_reply(struct smtpc *s, void *arg, const struct smtpc_reply *r)
{
	struct etrn_job *j = arg;

	(void)s;
	printf("%s\n", r->text);
	j->replied = true;
	j->code = r->code;
}

static void on_close(struct smtpc *s, void *arg, const char *error,
		     const struct smtpc_reply *last)
{
	struct etrn_job *j = arg;

	(void)s;
	j->done = true;
	if (j->replied && j->code / 10 == 25)
		j->status = ADM_OK;
	else if (j->replied ? j->code / 100 == 5
			    : last != NULL && last->code / 100 == 5)
		j->status = 1; /* a 5xx: to ETRN, or the login refused */
	else
		j->status = ADM_TEMPFAIL;
	if (!j->replied && error != NULL) {
		if (last != NULL && last->code != 0)
			printf("%s\n", last->text);
		fprintf(stderr, "kantorpos: %s:%u: %s\n", j->host, j->port, error);
	}
}

static const struct smtpc_cb etrn_cb = {
	.on_ready = on_ready,
	.on_reply = on_reply,
	.on_close = on_close,
};

/* Run one ETRN dialogue to completion; returns the exit status. */
static int run_one(const struct config *cfg, struct etrn_job *j)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct worker *pool = loop != NULL ? worker_new(loop, 1, 0) : NULL;
	SSL_CTX *ctx = NULL;
	char err[256];
	struct smtpc *s;

	if (pool == NULL) {
		fprintf(stderr, "kantorpos: cannot start: %s\n", strerror(errno));
		if (loop != NULL)
			ev_loop_destroy(loop);
		return ADM_OSERR;
	}
	if (j->starttls &&
	    (ctx = tls_client_ctx_new(cfg != NULL ? cfg->tls_ca_file : NULL,
				      err, sizeof(err))) == NULL) {
		fprintf(stderr, "kantorpos: TLS: %s\n", err);
		worker_free(pool);
		ev_loop_destroy(loop);
		return ADM_SOFTWARE;
	}
	char host[256];

	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	struct smtpc_opts o = {
		.host = j->host, .port = j->port,
		.helo = cfg != NULL ? cfg->hostname : host,
		.tls = j->starttls ? SMTPC_TLS_REQUIRED : SMTPC_TLS_NONE,
		.verify_ctx = ctx,
		.timeout = cfg != NULL ? cfg->outbound_timeout : 0,
		.auth_user = j->user, .auth_password = j->password,
	};
	s = smtpc_start(loop, pool, &o, &etrn_cb, j);
	if (s == NULL) {
		fprintf(stderr, "kantorpos: %s\n", strerror(errno));
		j->status = ADM_OSERR;
	} else {
		while (!j->done)
			ev_run(loop, EVRUN_ONCE);
	}
	worker_free(pool);
	ev_loop_destroy(loop);
	SSL_CTX_free(ctx);
	return j->status;
}

/* The password of an etrn_request, by the rule for every password file
 * (common/config/secret.h, the one `kantorpos check` applies): read as the
 * account this process runs as (run_as when started as root). */
static char *read_password_file(const struct config_etrn_request *q)
{
	char err[PATH_MAX + 256], *pw = NULL;

	if (secret_read(q->password_file, geteuid(), &pw, err, sizeof(err)) < 0) {
		fprintf(stderr, "kantorpos: etrn_request %s %s: password_file %s\n",
			q->host, q->domain, err);
		return NULL;
	}
	return pw;
}

static int run_scheduled(const struct config *cfg)
{
	int worst = ADM_OK;

	if (cfg->n_etrn_requests == 0) {
		fprintf(stderr, "kantorpos: no etrn_request in %s\n", cfg->file);
		return ADM_CONFIG;
	}
	for (size_t i = 0; i < cfg->n_etrn_requests; i++) {
		const struct config_etrn_request *q = &cfg->etrn_requests[i];
		struct etrn_job j = { .host = q->host, .port = q->port,
				      .domain = q->domain,
				      .starttls = q->starttls,
				      .user = q->auth_user };
		int rc;

		if (j.user != NULL &&
		    (j.password = read_password_file(q)) == NULL) {
			worst = ADM_CONFIG;
			continue;
		}
		printf("%s:%u ETRN %s: ", q->host, q->port, q->domain);
		fflush(stdout);
		rc = run_one(cfg, &j);
		secret_free(j.password);
		if (rc != ADM_OK && worst == ADM_OK)
			worst = rc;
	}
	return worst;
}

int admin_cmd_etrn(struct admin *adm, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "starttls", no_argument, NULL, 's' },
		{ "auth", required_argument, NULL, 'a' },
		{ "scheduled", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct etrn_job j = { .port = 25 };
	struct net_hostport hp;
	const struct config *cfg = NULL;
	const char *why = NULL, *dom;
	bool scheduled = false;
	int opt, rc;

	if (admin_wants_help(argc, argv)) {
		etrn_usage(stdout);
		return ADM_OK;
	}
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': j.starttls = true; break;
		case 'a': j.user = optarg; break;
		case 'S': scheduled = true; break;
		default:
			etrn_usage(stderr);
			return ADM_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (scheduled) {
		if (optind != argc || j.starttls || j.user != NULL) {
			etrn_usage(stderr);
			return ADM_USAGE;
		}
		if ((cfg = admin_config(adm)) == NULL)
			return ADM_CONFIG;
		if (admin_run_as(cfg, false) < 0)
			return ADM_CONFIG;
		return run_scheduled(cfg);
	}
	if (argc - optind != 2) {
		etrn_usage(stderr);
		return ADM_USAGE;
	}
	if (net_parse_hostport(argv[optind], 25, &hp, &why) < 0 || hp.wildcard ||
	    hp.port == 0) {
		fprintf(stderr, "kantorpos: %s: %s\n", argv[optind],
			why != NULL ? why : "expected HOST[:PORT]");
		return ADM_USAGE;
	}
	dom = argv[optind + 1][0] == '@' ? argv[optind + 1] + 1 : argv[optind + 1];
	if (!config_is_domain(dom)) {
		fprintf(stderr, "kantorpos: %s: expected DOMAIN or @DOMAIN\n",
			argv[optind + 1]);
		return ADM_USAGE;
	}
	if (j.user != NULL && !j.starttls) {
		fprintf(stderr, "kantorpos: --auth sends a password: use it with --starttls\n");
		return ADM_USAGE;
	}
	j.host = hp.host;
	j.port = hp.port;
	j.domain = argv[optind + 1];
	/* The configuration is optional here (HELO name, trust anchors). */
	if (access(adm->config_path, R_OK) == 0 &&
	    (cfg = admin_config(adm)) == NULL)
		return ADM_CONFIG;
	/* ETRN writes nothing, but the network is not talked to as root. */
	if (admin_run_as(cfg, false) < 0)
		return ADM_CONFIG;
	if (j.user != NULL && (j.password = admin_read_secret("Password: ")) == NULL)
		return ADM_USAGE;
	rc = run_one(cfg, &j);
	secret_free(j.password);
	return rc;
}
