/* bench/benchlib.c: the shared plumbing of the load generators (see
 * benchlib.h). */
#include "autoconf.h"

#include "bench/benchlib.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BL_IN_START 4096

double bl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bl_die(int errnum, const char *fmt, ...)
{
	va_list ap;

	fputs("bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errnum != 0)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
	exit(1);
}

int bl_dial(const char *host, unsigned port, const char *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, one = 1;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	sa.sin_port = htons((unsigned short)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (src != NULL) {
		struct sockaddr_in me = { .sin_family = AF_INET };

		if (inet_pton(AF_INET, src, &me.sin_addr) != 1) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		/* Let the kernel pick the port at connect time, so that one
		 * source address serves many destinations. */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
				 sizeof one);
		if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void bl_conn_init(struct bl_conn *c, int ep, int fd, void *owner)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = owner };

	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->incap = BL_IN_START;
	c->in = malloc(c->incap);
	if (c->in == NULL)
		bl_die(ENOMEM, "connection buffer");
	c->events = EPOLLIN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		bl_die(errno, "epoll_ctl");
}

void bl_conn_close(struct bl_conn *c, int ep)
{
	if (c->fd >= 0) {
		(void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->inlen = c->incap = c->outlen = c->outoff = c->outcap = 0;
}

ssize_t bl_conn_read(struct bl_conn *c)
{
	ssize_t n;

	if (c->incap - c->inlen < 2048) {
		char *p = realloc(c->in, c->incap * 2);

		if (p == NULL)
			bl_die(ENOMEM, "connection buffer");
		c->in = p;
		c->incap *= 2;
	}
	n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -2 : -1;
	c->inlen += (size_t)n;
	return n;
}

ssize_t bl_conn_line(struct bl_conn *c, const char **line_r)
{
	char *nl = memchr(c->in, '\n', c->inlen);
	size_t len;

	if (nl == NULL)
		return -1;
	len = (size_t)(nl - c->in);
	if (len > 0 && c->in[len - 1] == '\r')
		len--;
	*line_r = c->in;
	return (ssize_t)len;
}

void bl_conn_consume(struct bl_conn *c, size_t n)
{
	if (n >= c->inlen) {
		c->inlen = 0;
		return;
	}
	memmove(c->in, c->in + n, c->inlen - n);
	c->inlen -= n;
}

static void watch(struct bl_conn *c, int ep, unsigned events, void *owner)
{
	struct epoll_event ev = { .events = events, .data.ptr = owner };

	if (events == c->events)
		return;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		bl_die(errno, "epoll_ctl");
	c->events = events;
}

/* The epoll owner pointer is the struct that embeds the connection as its
 * first member (every generator lays its clients out that way). */
int bl_conn_flush(struct bl_conn *c, int ep)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff,
				  c->outlen - c->outoff);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen) {
		c->outoff = c->outlen = 0;
		watch(c, ep, EPOLLIN, c);
	} else {
		watch(c, ep, EPOLLIN | EPOLLOUT, c);
	}
	return 0;
}

int bl_conn_send(struct bl_conn *c, int ep, const void *data, size_t len)
{
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *p;

		while (cap < c->outlen + len)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			bl_die(ENOMEM, "output buffer");
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
	return bl_conn_flush(c, ep);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bl_percentile(double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, cmp_double);
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

long bl_count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}
