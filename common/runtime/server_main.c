/* common/runtime/server_main.c: the daemon program around the runtime (argv, help,
 * start-up errors on stderr) and the session helpers that need none of the
 * server's state: session ids and the protocol trace. */
#include "autoconf.h"

#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/base/log.h"
#include "common/runtime/server.h"

void server_new_sid(struct server *srv, char sid_r[SERVER_SID_SIZE])
{
	uint64_t id;

	(void)srv;
	randombytes_buf(&id, sizeof id);
	snprintf(sid_r, SERVER_SID_SIZE, "%016llx", (unsigned long long)id);
}

void server_trace(const struct server *srv, const char *sid, bool incoming,
		  const char *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;
	char *out;
	size_t i, o = 0;

	if (!server_trace_on(srv))
		return;
	/* Control bytes escaped: a client must not forge log lines. */
	out = malloc(len * 4 + 1);
	if (out == NULL)
		return;
	for (i = 0; i < len; i++) {
		c = (unsigned char)text[i];
		if (c < 0x20 || c == 0x7f || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	log_info("%s %c %s", sid, incoming ? '<' : '>', out);
	free(out);
}

static void usage(FILE *f, const char *name)
{
	fprintf(f,
		"usage: %s [-f] [-t] [-c CONF]\n"
		"  -c CONF      configuration file (default %s)\n"
		"  -f           log to standard error instead of syslog\n"
		"               (log_file, when set, takes the place of both)\n"
		"  -t           protocol trace: log every line in and out\n"
		"               (secrets masked)\n"
		"  -h, --help   this help\n"
		"  --version    print the version and exit\n"
		"The daemon stays in the foreground; SIGTERM stops it "
		"gracefully, SIGHUP reloads,\n"
		"SIGUSR1 reopens the log file.\n",
		name, CONFIG_DEFAULT_PATH);
}

int server_main(int argc, char **argv, const struct server_ops *ops)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CONFIG_DEFAULT_PATH;
	unsigned flags = 0;
	struct server *srv;
	char *err = NULL;
	int c, rc;

	/* First, as each daemon's main calls this first: logrotate's SIGUSR1
	 * may come while we start, and its default action would end us.
	 * Ignored until server_new's ev_signal watcher installs its handler
	 * in place of SIG_IGN. */
	signal(SIGUSR1, SIG_IGN);
	while ((c = getopt_long(argc, argv, "c:fth", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'f': flags |= SERVER_FOREGROUND; break;
		case 't': flags |= SERVER_TRACE; break;
		case 'h': usage(stdout, ops->name); return 0;
		case 'V': printf("%s %s\n", ops->name, PACKAGE_VERSION); return 0;
		default: usage(stderr, ops->name); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, ops->name);
		return 2;
	}
	log_init(ops->name, (flags & SERVER_FOREGROUND) != 0);
	srv = server_new(path, ops, flags, &err);
	if (srv == NULL) {
		const char *p = err != NULL ? err : "out of memory\n";

		/* Always on stderr for whoever started us; also in syslog
		 * or the log file when that is where the logs go. */
		while (*p != '\0') {
			const char *nl = strchr(p, '\n');
			int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);

			fprintf(stderr, "%s: %.*s\n", ops->name, n, p);
			if (!log_on_stderr() && n > 0)
				log_errorx("%.*s", n, p);
			p += n + (nl != NULL);
		}
		free(err);
		return 1;
	}
	rc = server_run(srv);
	server_free(srv);
	return rc;
}
