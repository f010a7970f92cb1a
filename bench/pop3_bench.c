/* bench/pop3_bench.c: load generator for kantorpos-pop3d. Concurrent
 * clients (one thread each, one user each so they never meet [IN-USE])
 * log in with USER/PASS, RETR every message and QUIT without DELE, over
 * and over for a fixed time; then it prints logins/s, messages/s and MB/s.
 *
 *   pop3-bench [-H host] [-P port] [-c clients] [-d seconds]
 *              -u user-format -w password
 *
 * user-format holds one %d, replaced by the client number from 1, e.g.
 * "bench%d@example.org". Plaintext only: point it at a listener marked
 * plaintext-ok. */
#include "autoconf.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_BUF (256 * 1024)

struct bench {
	const char *host;
	const char *port;
	const char *user_fmt;
	const char *password;
	double seconds;
	double deadline;
	atomic_ulong logins;
	atomic_ulong messages;
	atomic_ullong bytes;
	atomic_ulong errors;
};

struct client {
	struct bench *b;
	int id;
	int fd;
	char *buf;
	size_t len; /* bytes buffered */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const struct bench *b)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int fd = -1;

	if (getaddrinfo(b->host, b->port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Read until buf holds a CRLF; returns the line length (without CRLF) or
 * -1. The line stays at the start of buf until drop_line. */
static ssize_t read_line(struct client *c)
{
	for (;;) {
		char *eol = c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL;
		ssize_t n;

		if (eol != NULL)
			return eol - c->buf;
		if (c->len == BENCH_BUF)
			return -1;
		n = read(c->fd, c->buf + c->len, BENCH_BUF - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static void drop(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Send "verb[ arg]\r\n" and expect "+OK". */
static int command(struct client *c, const char *verb, const char *arg)
{
	char line[512];
	int n = snprintf(line, sizeof line, "%s%s%s\r\n", verb,
			 arg ? " " : "", arg ? arg : "");
	ssize_t l;

	if (n < 0 || (size_t)n >= sizeof line ||
	    write(c->fd, line, (size_t)n) != n)
		return -1;
	l = read_line(c);
	if (l < 3 || memcmp(c->buf, "+OK", 3) != 0)
		return -1;
	drop(c, (size_t)l + 2);
	return 0;
}

/* Read a multi-line body up to "\r\n.\r\n"; returns its size or -1. */
static long long read_body(struct client *c)
{
	long long total = 0;
	char tail[5] = { 0 };
	size_t have = 0;

	for (;;) {
		for (size_t i = 0; i < c->len; i++) {
			memmove(tail, tail + 1, 4);
			tail[4] = c->buf[i];
			have++;
			if (have >= 3 && (memcmp(tail + 2, ".\r\n", 3) == 0) &&
			    (have == 3 || memcmp(tail, "\r\n", 2) == 0)) {
				total += (long long)i + 1;
				drop(c, i + 1);
				return total;
			}
		}
		total += (long long)c->len;
		c->len = 0;
		ssize_t n = read(c->fd, c->buf, BENCH_BUF);

		if (n <= 0)
			return -1;
		c->len = (size_t)n;
	}
}

static int one_session(struct client *c, const char *user)
{
	char num[32];
	unsigned long count;
	ssize_t l;

	c->len = 0;
	c->fd = dial(c->b);
	if (c->fd < 0)
		return -1;
	if ((l = read_line(c)) < 0)
		goto fail;
	drop(c, (size_t)l + 2);
	if (command(c, "USER", user) < 0 ||
	    command(c, "PASS", c->b->password) < 0)
		goto fail;
	atomic_fetch_add(&c->b->logins, 1);
	if (write(c->fd, "STAT\r\n", 6) != 6 || (l = read_line(c)) < 0 ||
	    sscanf(c->buf, "+OK %lu", &count) != 1)
		goto fail;
	drop(c, (size_t)l + 2);
	for (unsigned long i = 1; i <= count && now() < c->b->deadline; i++) {
		long long n;

		snprintf(num, sizeof num, "%lu", i);
		if (command(c, "RETR", num) < 0 ||
		    (n = read_body(c)) < 0)
			goto fail;
		atomic_fetch_add(&c->b->messages, 1);
		atomic_fetch_add(&c->b->bytes, (unsigned long long)n);
	}
	if (command(c, "QUIT", NULL) < 0)
		goto fail;
	close(c->fd);
	return 0;
fail:
	close(c->fd);
	return -1;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	const char *fmt = c->b->user_fmt;
	const char *pct = strstr(fmt, "%d");
	char user[320];

	/* The format comes from the command line: substitute by hand. */
	snprintf(user, sizeof user, "%.*s%d%s", (int)(pct - fmt), fmt, c->id,
		 pct + 2);
	while (now() < c->b->deadline)
		if (one_session(c, user) < 0) {
			atomic_fetch_add(&c->b->errors, 1);
			usleep(10000);
		}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: pop3-bench [-H host] [-P port] [-c clients] "
		"[-d seconds] -u user-format -w password\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench b = { .host = "127.0.0.1", .port = "110", .seconds = 5 };
	int clients = 4, opt;
	pthread_t *threads;
	struct client *cs;
	double start, took;

	while ((opt = getopt(argc, argv, "H:P:c:d:u:w:")) != -1) {
		switch (opt) {
		case 'H': b.host = optarg; break;
		case 'P': b.port = optarg; break;
		case 'c': clients = atoi(optarg); break;
		case 'd': b.seconds = atof(optarg); break;
		case 'u': b.user_fmt = optarg; break;
		case 'w': b.password = optarg; break;
		default: usage();
		}
	}
	if (b.user_fmt == NULL || b.password == NULL || clients < 1 ||
	    clients > 10000 || b.seconds <= 0 ||
	    strstr(b.user_fmt, "%d") == NULL)
		usage();
	threads = calloc((size_t)clients, sizeof *threads);
	cs = calloc((size_t)clients, sizeof *cs);
	if (threads == NULL || cs == NULL)
		return 1;
	start = now();
	b.deadline = start + b.seconds;
	for (int i = 0; i < clients; i++) {
		cs[i].b = &b;
		cs[i].id = i + 1;
		cs[i].buf = malloc(BENCH_BUF);
		if (cs[i].buf == NULL ||
		    pthread_create(&threads[i], NULL, client_main, &cs[i]) != 0)
			return 1;
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(threads[i], NULL);
		free(cs[i].buf);
	}
	took = now() - start;
	printf("clients %d seconds %.2f logins %lu messages %lu errors %lu\n",
	       clients, took, (unsigned long)b.logins,
	       (unsigned long)b.messages, (unsigned long)b.errors);
	printf("logins/s %.1f messages/s %.1f MB/s %.2f\n",
	       (double)b.logins / took, (double)b.messages / took,
	       (double)b.bytes / took / 1e6);
	free(threads);
	free(cs);
	return b.logins > 0 ? 0 : 1;
}
