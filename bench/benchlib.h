/* bench/benchlib.h: what the load generators share: a monotonic clock,
 * non-blocking loopback connections driven by one epoll set, a line buffer
 * per connection, and percentiles. Benchmark code only: nothing here is
 * linked into the daemons. */
#ifndef KANTORPOS_BENCH_BENCHLIB_H
#define KANTORPOS_BENCH_BENCHLIB_H

#include <stddef.h>
#include <sys/types.h>

/* Seconds on CLOCK_MONOTONIC. */
double bl_now(void);

/* Print "prog: message" (with strerror(errno) when errnum != 0) to stderr
 * and exit 1. */
void bl_die(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Start a non-blocking TCP connection to host:port (numeric IPv4), bound
 * to source address src first when src is not NULL. Returns the fd (the
 * connection may still be in progress), or -1 with errno. */
int bl_dial(const char *host, unsigned port, const char *src);

/* One connection: fd, input buffer, pending output. */
struct bl_conn {
	int fd;
	char *in;
	size_t inlen, incap;
	char *out;
	size_t outlen, outoff, outcap;
	unsigned events; /* the epoll events registered */
};

/* Set up c for fd (allocates the buffers) and add it to epoll set ep with
 * data.ptr = owner, which must be the address of c itself or of a struct
 * whose first member is c (the same pointer is used when the watched
 * events change). Exits on allocation failure. */
void bl_conn_init(struct bl_conn *c, int ep, int fd, void *owner);

/* Remove c from ep, close it and free its buffers. */
void bl_conn_close(struct bl_conn *c, int ep);

/* Read what the socket has. Returns bytes read, 0 at end of stream, -1
 * on error; EAGAIN returns -2. */
ssize_t bl_conn_read(struct bl_conn *c);

/* The first complete line (without CRLF) in c->in: returns its length and
 * the start in *line_r, or -1 when none is complete yet. */
ssize_t bl_conn_line(struct bl_conn *c, const char **line_r);

/* Drop n bytes from the front of the input buffer. */
void bl_conn_consume(struct bl_conn *c, size_t n);

/* Queue len bytes and write as much as the socket takes; watches EPOLLOUT
 * while anything is pending. Returns 0, or -1 on a write error. */
int bl_conn_send(struct bl_conn *c, int ep, const void *data, size_t len);

/* Write pending output (call on EPOLLOUT). Returns 0 or -1. */
int bl_conn_flush(struct bl_conn *c, int ep);

/* The p-th percentile (0..100) of v[0..n) (sorts v). 0 for n == 0. */
double bl_percentile(double *v, size_t n, double p);

/* Number of entries (other than . and ..) in directory dir, or -1. */
long bl_count_dir(const char *dir);

#endif
