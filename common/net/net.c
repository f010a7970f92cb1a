/* common/net/net.c: the host:port parser, resolution, listeners with an accept
 * loop and EMFILE back-off, and the open-files limit; see net.h. */
#include "autoconf.h"

#include "common/net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/base/log.h"

/* How long a listener rests after the process ran out of descriptors. */
#define NET_EMFILE_PAUSE 0.5
/* Connections taken per readiness event, so one busy listener cannot
 * monopolise the loop. */
#define NET_ACCEPT_BATCH 64

struct net_sock {
	ev_io io;
	int fd;
};

struct net_listener {
	struct ev_loop *loop;
	net_accept_fn *cb;
	void *arg;
	ev_timer backoff;
	bool paused;
	size_t n;
	struct net_sock socks[];
};

static bool valid_hostname(const char *h)
{
	const char *label = h, *p;
	bool numeric = true;

	if (*h == '\0' || strlen(h) > NET_HOST_MAX)
		return false;
	for (p = h; *p != '\0'; p++) {
		char ch = *p;

		if (ch == '.') {
			if (p == label)
				return false; /* empty label */
			label = p + 1;
			numeric = true;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
		if (ch < '0' || ch > '9')
			numeric = false;
	}
	/* An all-numeric last label is a malformed IPv4 address, not a name
	 * (no top-level domain is all digits). A trailing dot is allowed. */
	if (*label != '\0' && numeric)
		return false;
	return true;
}

static int parse_port(const char *s, unsigned *port_r)
{
	unsigned long v = 0;
	size_t i;

	if (*s == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

static int hp_fail(const char **err_r, const char *why)
{
	*err_r = why;
	return -1;
}

/* "[v6]" or "[v6]:port"; *port_r points after the colon, or stays NULL. */
static int parse_bracketed(const char *s, struct net_hostport *hp_r,
			   const char **port_r, const char **err_r)
{
	unsigned char addr[sizeof(struct in6_addr)];
	const char *end = strchr(s, ']'), *host = s + 1;
	size_t hlen;

	if (end == NULL)
		return hp_fail(err_r, "missing ']' after IPv6 address");
	hlen = (size_t)(end - host);
	if (end[1] == ':')
		*port_r = end + 2;
	else if (end[1] != '\0')
		return hp_fail(err_r, "unexpected text after ']'");
	if (hlen == 0 || hlen >= NET_ADDRSTRLEN)
		return hp_fail(err_r, "bad IPv6 address");
	memcpy(hp_r->host, host, hlen);
	hp_r->host[hlen] = '\0';
	if (inet_pton(AF_INET6, hp_r->host, addr) != 1)
		return hp_fail(err_r, "bad IPv6 address");
	hp_r->family = AF_INET6;
	return 0;
}

/* Several colons: only a bare IPv6 literal, and only when the port may be
 * left out. */
static int parse_bare_ipv6(const char *s, int default_port,
			   struct net_hostport *hp_r, const char **err_r)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (default_port < 0 || strlen(s) >= NET_ADDRSTRLEN ||
	    inet_pton(AF_INET6, s, addr) != 1)
		return hp_fail(err_r,
			       "IPv6 address needs brackets: [address]:port");
	strcpy(hp_r->host, s);
	hp_r->family = AF_INET6;
	hp_r->port = (unsigned)default_port;
	return 0;
}

/* "host", "*", "1.2.3.4", each with an optional ":port" (colon points at
 * its colon or is NULL); *port_r points after the colon. */
static int parse_host(const char *s, const char *colon,
		      struct net_hostport *hp_r, const char **port_r,
		      const char **err_r)
{
	unsigned char addr[sizeof(struct in6_addr)];
	size_t hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);

	if (colon != NULL)
		*port_r = colon + 1;
	if (hlen == 0)
		return hp_fail(err_r, "empty host");
	if (hlen > NET_HOST_MAX)
		return hp_fail(err_r, "host name too long");
	memcpy(hp_r->host, s, hlen);
	hp_r->host[hlen] = '\0';
	if (strcmp(hp_r->host, "*") == 0) {
		hp_r->wildcard = true;
		hp_r->family = AF_UNSPEC;
	} else if (inet_pton(AF_INET, hp_r->host, addr) == 1) {
		hp_r->family = AF_INET;
	} else if (valid_hostname(hp_r->host)) {
		hp_r->family = AF_UNSPEC;
	} else {
		return hp_fail(err_r, "bad host name or address");
	}
	return 0;
}

int net_parse_hostport(const char *s, int default_port,
		       struct net_hostport *hp_r, const char **err_r)
{
	const char *port = NULL, *colon;
	int rc;

	memset(hp_r, 0, sizeof *hp_r);
	*err_r = NULL;
	if (s == NULL || *s == '\0')
		return hp_fail(err_r, "empty address");
	colon = strchr(s, ':');
	if (*s == '[')
		rc = parse_bracketed(s, hp_r, &port, err_r);
	else if (colon != NULL && strchr(colon + 1, ':') != NULL)
		return parse_bare_ipv6(s, default_port, hp_r, err_r);
	else
		rc = parse_host(s, colon, hp_r, &port, err_r);
	if (rc < 0)
		return -1;
	if (port == NULL) {
		if (default_port < 0 || default_port > 65535)
			return hp_fail(err_r, "missing port");
		hp_r->port = (unsigned)default_port;
		return 0;
	}
	if (parse_port(port, &hp_r->port) < 0)
		return hp_fail(err_r, "bad port (0-65535)");
	return 0;
}

/* getaddrinfo for stream sockets to host and port, with flags. */
static int stream_addrinfo(const char *host, unsigned port, int flags,
			   struct addrinfo **res_r)
{
	struct addrinfo hints;
	char portstr[8];

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | flags;
	snprintf(portstr, sizeof portstr, "%u", port);
	return getaddrinfo(host, portstr, &hints, res_r);
}

int net_resolve(const char *host, unsigned port, bool passive,
		struct addrinfo **res_r, char *err, size_t errlen)
{
	int rc;

	if (host != NULL && strcmp(host, "*") == 0)
		host = NULL;
	rc = stream_addrinfo(host, port, passive ? AI_PASSIVE : AI_ADDRCONFIG,
			     res_r);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", host != NULL ? host : "*",
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	return 0;
}

int net_resolve_literal(const char *host, unsigned port,
			struct addrinfo **res_r)
{
	int rc = stream_addrinfo(host, port, AI_NUMERICHOST, res_r);

	if (rc == 0)
		return 1;
	if (rc == EAI_NONAME)
		return 0;
	if (rc != EAI_SYSTEM)
		errno = rc == EAI_MEMORY ? ENOMEM : EINVAL;
	return -1;
}

void net_addr_string(const struct sockaddr *sa, char *buf, size_t buflen,
		     unsigned *port_r)
{
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)buflen);
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf,
				  (socklen_t)buflen);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
				  (socklen_t)buflen);
		port = ntohs(sin6->sin6_port);
	} else if (sa->sa_family == AF_UNIX) {
		snprintf(buf, buflen, "local");
	} else {
		snprintf(buf, buflen, "?");
	}
	if (port_r != NULL)
		*port_r = port;
}

int net_raise_nofile(unsigned long *limit_r)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -1;
	}
	if (limit_r != NULL)
		*limit_r = rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1
							: (unsigned long)rl.rlim_cur;
	return 0;
}

static void listener_stop_io(struct net_listener *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		ev_io_stop(l->loop, &l->socks[i].io);
}

static void listener_start_io(struct net_listener *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		ev_io_start(l->loop, &l->socks[i].io);
}

static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct net_listener *l = w->data;

	(void)loop;
	(void)revents;
	if (!l->paused)
		listener_start_io(l);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct net_listener *l = w->data;
	struct sockaddr_storage ss;
	char peer[NET_ADDRSTRLEN];
	socklen_t sslen;
	int i, fd;

	(void)loop;
	(void)revents;
	for (i = 0; i < NET_ACCEPT_BATCH; i++) {
		sslen = sizeof ss;
		fd = accept4(w->fd, (struct sockaddr *)&ss, &sslen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* The pending connection stays readable, so
				 * the watcher would spin: rest instead. */
				log_warn("accept: out of file descriptors, "
					 "pausing the listener");
				listener_stop_io(l);
				ev_timer_stop(l->loop, &l->backoff);
				ev_timer_set(&l->backoff, NET_EMFILE_PAUSE, 0.);
				ev_timer_start(l->loop, &l->backoff);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_warn("accept");
			}
			return;
		}
		net_addr_string((struct sockaddr *)&ss, peer, sizeof peer, NULL);
		l->cb(fd, peer, l->arg);
		if (l->paused)
			return;
	}
}

static int bind_one(const struct addrinfo *ai, int backlog, char *err,
		    size_t errlen)
{
	char addr[NET_ADDRSTRLEN];
	unsigned port;
	int fd, one = 1, saved;

	net_addr_string(ai->ai_addr, addr, sizeof addr, &port);
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0) {
		saved = errno;
		snprintf(err, errlen, "socket for %s: %s", addr, strerror(errno));
		errno = saved;
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)) {
		snprintf(err, errlen, "setsockopt for %s: %s", addr,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		saved = errno;
		snprintf(err, errlen, "bind %s%s%s:%u: %s",
			 ai->ai_family == AF_INET6 ? "[" : "", addr,
			 ai->ai_family == AF_INET6 ? "]" : "", port,
			 strerror(saved));
		close(fd);
		errno = saved;
		return -1;
	}
	if (listen(fd, backlog) < 0) {
		snprintf(err, errlen, "listen %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int net_listen(struct ev_loop *loop, const char *hostport, int backlog,
	       net_accept_fn *cb, void *arg, struct net_listener **l_r,
	       char *err, size_t errlen)
{
	struct net_hostport hp;
	struct addrinfo *res, *ai;
	struct net_listener *l;
	const char *perr;
	size_t n = 0, i;
	int fd;

	if (net_parse_hostport(hostport, -1, &hp, &perr) < 0) {
		snprintf(err, errlen, "%s: %s", hostport, perr);
		return -1;
	}
	if (net_resolve(hp.wildcard ? NULL : hp.host, hp.port, true, &res, err,
			errlen) < 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	l = calloc(1, sizeof *l + n * sizeof l->socks[0]);
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		freeaddrinfo(res);
		return -1;
	}
	l->loop = loop;
	l->cb = cb;
	l->arg = arg;
	ev_timer_init(&l->backoff, backoff_cb, NET_EMFILE_PAUSE, 0.);
	l->backoff.data = l;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		fd = bind_one(ai, backlog, err, errlen);
		if (fd < 0) {
			/* A host without IPv6 still serves "*" on IPv4. */
			if (hp.wildcard && ai->ai_family == AF_INET6 &&
			    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
				continue;
			goto fail;
		}
		ev_io_init(&l->socks[l->n].io, accept_cb, fd, EV_READ);
		l->socks[l->n].io.data = l;
		l->socks[l->n].fd = fd;
		l->n++;
	}
	freeaddrinfo(res);
	res = NULL;
	if (l->n == 0) {
		snprintf(err, errlen, "%s: no usable address", hostport);
		goto fail;
	}
	listener_start_io(l);
	*l_r = l;
	return 0;
fail:
	if (res != NULL)
		freeaddrinfo(res);
	for (i = 0; i < l->n; i++)
		close(l->socks[i].fd);
	free(l);
	return -1;
}

unsigned net_listener_port(const struct net_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char addr[NET_ADDRSTRLEN];
	unsigned port = 0;

	if (l->n == 0 ||
	    getsockname(l->socks[0].fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	net_addr_string((struct sockaddr *)&ss, addr, sizeof addr, &port);
	return port;
}

void net_listener_pause(struct net_listener *l)
{
	l->paused = true;
	listener_stop_io(l);
}

void net_listener_resume(struct net_listener *l)
{
	l->paused = false;
	if (!ev_is_active(&l->backoff))
		listener_start_io(l);
}

void net_listener_free(struct net_listener *l)
{
	size_t i;

	if (l == NULL)
		return;
	ev_timer_stop(l->loop, &l->backoff);
	for (i = 0; i < l->n; i++) {
		ev_io_stop(l->loop, &l->socks[i].io);
		close(l->socks[i].fd);
	}
	free(l);
}
