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

/* The run: where to connect, the connections and their counts. */
struct hold {
	const char *host;
	unsigned port;
	char *srcs[64];
	unsigned nsrc;
	long n, opened, greeted, failed, pending;
	double timeout;
	struct idle *cs;
	int ep;
};

static void parse_args(int argc, char **argv, struct hold *h)
{
	char *srclist = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "H:P:n:S:t:")) != -1) {
		switch (opt) {
		case 'H': h->host = optarg; break;
		case 'P': h->port = (unsigned)atoi(optarg); break;
		case 'n': h->n = atol(optarg); break;
		case 'S': srclist = optarg; break;
		case 't': h->timeout = atof(optarg); break;
		default:
			fputs("usage: idle-hold [-H host] -P port -n connections "
			      "[-S src,...] [-t seconds]\n", stderr);
			exit(2);
		}
	}
	if (h->port == 0 || h->n < 1)
		bl_die(0, "-P port and -n connections are required");
	for (char *s = srclist ? strtok(srclist, ",") : NULL;
	     s && h->nsrc < 64; s = strtok(NULL, ","))
		h->srcs[h->nsrc++] = s;
}

/* As many descriptors as the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Open the next batch of connections, so that the server's backlog is not
 * the limit being measured. */
static void open_batch(struct hold *h)
{
	for (int k = 0; k < 200 && h->opened < h->n &&
	     h->opened - h->greeted - h->failed < 1000; k++, h->opened++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct idle *x = &h->cs[h->opened];

		x->fd = bl_dial(h->host, h->port,
				h->nsrc ? h->srcs[h->opened % h->nsrc] : NULL);
		if (x->fd < 0) {
			x->state = -1;
			h->failed++;
			h->pending--;
			continue;
		}
		ev.data.ptr = x;
		if (epoll_ctl(h->ep, EPOLL_CTL_ADD, x->fd, &ev) < 0)
			bl_die(errno, "epoll_ctl");
	}
}

/* The server spoke on x, or the connection ended. */
static void on_readable(struct hold *h, struct idle *x)
{
	ssize_t got = read(x->fd, x->buf, sizeof x->buf);

	if (got < 0 && errno == EAGAIN)
		return;
	/* Greeted (the server spoke) or failed; either way the connection
	 * stops being watched. */
	(void)epoll_ctl(h->ep, EPOLL_CTL_DEL, x->fd, NULL);
	if (got > 0) {
		x->state = 1;
		h->greeted++;
		/* Anything more is read and dropped by the kernel buffer;
		 * the client says nothing. */
		while (read(x->fd, x->buf, sizeof x->buf) > 0)
			;
	} else {
		x->state = -1;
		h->failed++;
		close(x->fd);
		x->fd = -1;
	}
	h->pending--;
}

int main(int argc, char **argv)
{
	struct hold h = { .host = "127.0.0.1", .timeout = 120 };
	double t0, deadline;
	char c;

	parse_args(argc, argv, &h);
	raise_nofile();
	h.cs = calloc((size_t)h.n, sizeof *h.cs);
	h.ep = epoll_create1(EPOLL_CLOEXEC);
	if (h.cs == NULL || h.ep < 0)
		bl_die(errno, "setup");
	t0 = bl_now();
	deadline = t0 + h.timeout;
	h.pending = h.n;
	while (h.pending > 0 && bl_now() < deadline) {
		struct epoll_event evs[256];
		int m;

		open_batch(&h);
		m = epoll_wait(h.ep, evs, 256, 100);
		if (m < 0 && errno != EINTR)
			bl_die(errno, "epoll_wait");
		for (int k = 0; k < m; k++)
			on_readable(&h, evs[k].data.ptr);
	}
	printf("connections=%ld greeted=%ld failed=%ld seconds=%.3f\n", h.n,
	       h.greeted, h.failed, bl_now() - t0);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (long i = 0; i < h.n; i++)
		if (h.cs[i].state == 1)
			close(h.cs[i].fd);
	free(h.cs);
	close(h.ep);
	return 0;
}
