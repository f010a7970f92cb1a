/* common/net/net.h: addresses and listeners: the pure "host:port" parser, name
 * resolution (blocking, for workers and start-up), peer address strings,
 * listening sockets with a libev accept loop, and the open-files limit. */
#ifndef KANTORPOS_COMMON_NET_H
#define KANTORPOS_COMMON_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <ev.h>

struct addrinfo;

/* Longest host name (RFC 1035 section 2.3.4, text form). */
#define NET_HOST_MAX 253
/* Room for a numeric address string: "ffff:...:255.255.255.255" + NUL. */
#define NET_ADDRSTRLEN 46

/* A parsed "host:port". host has no brackets; "*" is the wildcard. */
struct net_hostport {
	char host[NET_HOST_MAX + 1];
	unsigned port;
	/* AF_INET or AF_INET6 for an address literal, AF_UNSPEC for a host
	 * name or the wildcard. */
	int family;
	bool wildcard;
};

/* Parse "host:port", "[v6]:port", "*:port" or "1.2.3.4:port". With
 * default_port >= 0 the port may be left out ("host", "[v6]", or a bare
 * IPv6 literal); with -1 it is required. Ports are 0..65535 (0 asks the
 * kernel for one; callers that need a real port check for it). Host names
 * are checked for form only (letters, digits, '-', '_', '.').
 * Pure: no I/O, no globals. Returns 0, or -1 with a static message in
 * *err_r. */
int net_parse_hostport(const char *s, int default_port,
		       struct net_hostport *hp_r, const char **err_r);

/* Resolve host (a name or literal; "*" or NULL with passive for the
 * wildcard) and port to a list of stream socket addresses. BLOCKING (DNS):
 * run it on a worker thread, or at start-up. Returns 0 with *res_r for
 * freeaddrinfo, or -1 with a message in err. */
int net_resolve(const char *host, unsigned port, bool passive,
		struct addrinfo **res_r, char *err, size_t errlen);

/* host as an address literal ("192.0.2.1", "2001:db8::1"; no brackets)
 * with port: never a DNS query, so it does not block and may run on the
 * loop. Returns 1 with *res_r for freeaddrinfo, 0 when host is not a
 * literal (a name to resolve), -1 on another error (errno). */
int net_resolve_literal(const char *host, unsigned port,
			struct addrinfo **res_r);

/* The numeric address of sa into buf ("127.0.0.1", "::1"; an IPv4-mapped
 * IPv6 address is shown as IPv4) and its port into *port_r (may be NULL).
 * buf should have NET_ADDRSTRLEN bytes; "?" for an unknown family. */
void net_addr_string(const struct sockaddr *sa, char *buf, size_t buflen,
		     unsigned *port_r);

/* Raise the soft RLIMIT_NOFILE to the hard limit. Returns 0 and the
 * resulting soft limit in *limit_r (may be NULL), or -1 with errno. */
int net_raise_nofile(unsigned long *limit_r);

/* Called for each accepted connection. fd is non-blocking and close-on-exec
 * and belongs to the callee from now on; peer is the numeric address
 * string (valid during the call only). The callback may pause the
 * listener but must not free it. */
typedef void net_accept_fn(int fd, const char *peer, void *arg);

struct net_listener;

/* Bind every address of hostport ("*" = IPv4 and IPv6, the IPv6 socket
 * with IPV6_V6ONLY; a name = each address it resolves to) with
 * SO_REUSEADDR, listen with backlog and start accepting on loop.
 * BLOCKING when hostport holds a name (resolution): call at start-up.
 * When accept fails with EMFILE/ENFILE the listener stops accepting for a
 * short while (a timer) instead of spinning on the readable socket.
 * Returns 0 with *l_r, or -1 with a message in err and, when a socket
 * call failed (bind: EADDRINUSE, EACCES...), its errno. */
int net_listen(struct ev_loop *loop, const char *hostport, int backlog,
	       net_accept_fn *cb, void *arg, struct net_listener **l_r,
	       char *err, size_t errlen);

/* The local port of the listener's first socket (useful after ":0"). */
unsigned net_listener_port(const struct net_listener *l);

/* Stop or restart accepting (connections wait in the backlog meanwhile). */
void net_listener_pause(struct net_listener *l);
void net_listener_resume(struct net_listener *l);

/* Stop watching and close every socket; NULL is fine. */
void net_listener_free(struct net_listener *l);

#endif
