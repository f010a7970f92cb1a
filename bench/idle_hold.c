/* bench/idle_hold.c: opens N connections to a server, waits for each
 * greeting line, and holds them open without a word, as idle clients do.
 *
 *   idle-hold [-H host] -P port -n connections [-S src1,src2,...]
 *             [-t greet-timeout]
 *
 * Source addresses (-S, e.g. 127.0.0.2,127.0.0.3) are used in turn, so
 * that many connections do not run out of ephemeral ports. When every
 * connection is greeted or failed (or the timeout passed) it prints one
 * line "connections=N greeted=G failed=F seconds=S", then holds them until
 * its standard input reaches end of file (or a signal ends it). */
#include "autoconf.h"

#include "bench/benchlib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

/* Greeting lines are short: a small fixed buffer per connection. */
struct idle {
	int fd;
	int state; /* 0 waiting, 1 greeted, -1 failed */
	char buf[8];
};

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	char *srcs[64], *srclist = NULL;
	unsigned port = 0, nsrc = 0;
	long n = 0, i, greeted = 0, failed = 0, pending, opened = 0;
	double timeout = 120, t0, deadline;
	struct idle *cs;
	struct rlimit rl;
	int ep, opt;
	char c;

	while ((opt = getopt(argc, argv, "H:P:n:S:t:")) != -1) {
		switch (opt) {
		case 'H': host = optarg; break;
		case 'P': port = (unsigned)atoi(optarg); break;
		case 'n': n = atol(optarg); break;
		case 'S': srclist = optarg; break;
		case 't': timeout = atof(optarg); break;
		default:
			fputs("usage: idle-hold [-H host] -P port -n connections "
			      "[-S src,...] [-t seconds]\n", stderr);
			return 2;
		}
	}
	if (port == 0 || n < 1)
		bl_die(0, "-P port and -n connections are required");
	for (char *s = srclist ? strtok(srclist, ",") : NULL; s && nsrc < 64;
	     s = strtok(NULL, ","))
		srcs[nsrc++] = s;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	cs = calloc((size_t)n, sizeof *cs);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (cs == NULL || ep < 0)
		bl_die(errno, "setup");
	t0 = bl_now();
	deadline = t0 + timeout;
	pending = n;
	while (pending > 0 && bl_now() < deadline) {
		struct epoll_event evs[256];
		int m, k;

		/* Open in batches, so that the server's backlog is not the
		 * limit being measured. */
		for (k = 0; k < 200 && opened < n &&
		     opened - greeted - failed < 1000; k++, opened++) {
			struct epoll_event ev = { .events = EPOLLIN };
			struct idle *x = &cs[opened];

			x->fd = bl_dial(host, port,
					nsrc ? srcs[opened % nsrc] : NULL);
			if (x->fd < 0) {
				x->state = -1;
				failed++;
				pending--;
				continue;
			}
			ev.data.ptr = x;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev) < 0)
				bl_die(errno, "epoll_ctl");
		}
		m = epoll_wait(ep, evs, 256, 100);
		if (m < 0 && errno != EINTR)
			bl_die(errno, "epoll_wait");
		for (k = 0; k < m; k++) {
			struct idle *x = evs[k].data.ptr;
			ssize_t got = read(x->fd, x->buf, sizeof x->buf);

			if (got < 0 && errno == EAGAIN)
				continue;
			/* Greeted (the server spoke) or failed; either way the
			 * connection stops being watched. */
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
			if (got > 0) {
				x->state = 1;
				greeted++;
				/* Anything more is read and dropped by the
				 * kernel buffer; the client says nothing. */
				while (read(x->fd, x->buf, sizeof x->buf) > 0)
					;
			} else {
				x->state = -1;
				failed++;
				close(x->fd);
				x->fd = -1;
			}
			pending--;
		}
	}
	printf("connections=%ld greeted=%ld failed=%ld seconds=%.3f\n", n,
	       greeted, failed, bl_now() - t0);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (i = 0; i < n; i++)
		if (cs[i].state == 1)
			close(cs[i].fd);
	free(cs);
	close(ep);
	return 0;
}
