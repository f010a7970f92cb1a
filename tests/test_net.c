/* tests/test_net.c: the host:port parser table, address strings, the
 * open-files limit and listeners on loopback. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/net/net.h"

struct row {
	const char *in;
	int default_port;
	int rc;
	const char *host;
	unsigned port;
	int family;
	bool wildcard;
};

Test(net, hostport_parser_table)
{
	static const struct row rows[] = {
		{ "127.0.0.1:25", -1, 0, "127.0.0.1", 25, AF_INET, false },
		{ "[::1]:587", -1, 0, "::1", 587, AF_INET6, false },
		{ "[2001:db8::1]:110", -1, 0, "2001:db8::1", 110, AF_INET6, false },
		{ "*:995", -1, 0, "*", 995, AF_UNSPEC, true },
		{ "mx.example.test:2525", -1, 0, "mx.example.test", 2525, AF_UNSPEC, false },
		{ "localhost:0", -1, 0, "localhost", 0, AF_UNSPEC, false },
		{ "mail_1.example.test.:65535", -1, 0, "mail_1.example.test.", 65535, AF_UNSPEC, false },
		{ "mx.example.test", 25, 0, "mx.example.test", 25, AF_UNSPEC, false },
		{ "[::1]", 110, 0, "::1", 110, AF_INET6, false },
		{ "::1", 110, 0, "::1", 110, AF_INET6, false },
		{ "10.0.0.1", 25, 0, "10.0.0.1", 25, AF_INET, false },
		/* bad forms */
		{ "", -1, -1, NULL, 0, 0, false },
		{ "mx.example.test", -1, -1, NULL, 0, 0, false },
		{ ":25", -1, -1, NULL, 0, 0, false },
		{ "host:", -1, -1, NULL, 0, 0, false },
		{ "host:65536", -1, -1, NULL, 0, 0, false },
		{ "host:99999999999", -1, -1, NULL, 0, 0, false },
		{ "host:-1", -1, -1, NULL, 0, 0, false },
		{ "host:2 5", -1, -1, NULL, 0, 0, false },
		{ "host:25x", -1, -1, NULL, 0, 0, false },
		{ "::1:25", -1, -1, NULL, 0, 0, false },
		{ "[::1]25", -1, -1, NULL, 0, 0, false },
		{ "[::1", -1, -1, NULL, 0, 0, false },
		{ "[]:25", -1, -1, NULL, 0, 0, false },
		{ "[127.0.0.1]:25", -1, -1, NULL, 0, 0, false },
		{ "[fe80::zz]:25", -1, -1, NULL, 0, 0, false },
		{ "1.2.3.256:25", -1, -1, NULL, 0, 0, false },
		{ "bad host:25", -1, -1, NULL, 0, 0, false },
		{ "a..b:25", -1, -1, NULL, 0, 0, false },
		{ "host/x:25", -1, -1, NULL, 0, 0, false },
		{ "host:25:26", -1, -1, NULL, 0, 0, false },
		{ "[::1]", -1, -1, NULL, 0, 0, false },
	};
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct net_hostport hp;
		const char *err = NULL;
		int rc = net_parse_hostport(rows[i].in, rows[i].default_port, &hp, &err);

		cr_assert_eq(rc, rows[i].rc, "row %zu \"%s\": rc %d", i, rows[i].in, rc);
		if (rc < 0) {
			cr_assert_not_null(err, "row %zu has a message", i);
			continue;
		}
		cr_assert_str_eq(hp.host, rows[i].host, "row %zu", i);
		cr_assert_eq(hp.port, rows[i].port, "row %zu", i);
		cr_assert_eq(hp.family, rows[i].family, "row %zu", i);
		cr_assert_eq(hp.wildcard, rows[i].wildcard, "row %zu", i);
	}
}

Test(net, hostport_rejects_long_names)
{
	char name[300];
	struct net_hostport hp;
	const char *err;

	memset(name, 'a', sizeof name);
	strcpy(name + 254, ":25");
	cr_assert_eq(net_parse_hostport(name, -1, &hp, &err), -1);
	strcpy(name + 253, ":25");
	cr_assert_eq(net_parse_hostport(name, -1, &hp, &err), 0);
}

Test(net, address_strings)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char buf[NET_ADDRSTRLEN];
	unsigned port;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(2525);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	net_addr_string((struct sockaddr *)&sin, buf, sizeof buf, &port);
	cr_assert_str_eq(buf, "127.0.0.1");
	cr_assert_eq(port, 2525);

	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(110);
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	net_addr_string((struct sockaddr *)&sin6, buf, sizeof buf, &port);
	cr_assert_str_eq(buf, "::1");
	cr_assert_eq(port, 110);

	inet_pton(AF_INET6, "::ffff:192.0.2.7", &sin6.sin6_addr);
	net_addr_string((struct sockaddr *)&sin6, buf, sizeof buf, NULL);
	cr_assert_str_eq(buf, "192.0.2.7");
}

Test(net, raise_nofile_reaches_hard_limit)
{
	struct rlimit rl;
	unsigned long lim = 0;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max > 64) {
		rl.rlim_cur = 64;
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	cr_assert_eq(net_raise_nofile(&lim), 0);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_eq(rl.rlim_cur, rl.rlim_max);
	if (rl.rlim_max != RLIM_INFINITY)
		cr_assert_eq(lim, (unsigned long)rl.rlim_max);
}

struct accepted {
	int n;
	int fd;
	char peer[NET_ADDRSTRLEN];
};

static void on_accept(int fd, const char *peer, void *arg)
{
	struct accepted *a = arg;

	a->n++;
	a->fd = fd;
	snprintf(a->peer, sizeof a->peer, "%s", peer);
}

static int connect_to(int family, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof ss);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		inet_pton(AF_INET, addr, &sin->sin_addr);
		len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		len = sizeof *sin6;
	}
	fd = socket(family, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0, "%s", strerror(errno));
	return fd;
}

Test(net, listener_accepts_on_loopback, .timeout = 10)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct net_listener *l = NULL;
	struct accepted a = { 0, -1, "" };
	char err[256];
	unsigned port;
	int fd;

	cr_assert_eq(net_listen(loop, "127.0.0.1:0", 16, on_accept, &a, &l, err,
				sizeof err), 0, "%s", err);
	port = net_listener_port(l);
	cr_assert_gt(port, 0);
	fd = connect_to(AF_INET, "127.0.0.1", port);
	while (a.n == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(a.n, 1);
	cr_assert_str_eq(a.peer, "127.0.0.1");
	cr_assert(fcntl(a.fd, F_GETFL) & O_NONBLOCK);
	cr_assert(fcntl(a.fd, F_GETFD) & FD_CLOEXEC);
	close(a.fd);
	close(fd);

	/* paused: the connection waits in the backlog */
	net_listener_pause(l);
	fd = connect_to(AF_INET, "127.0.0.1", port);
	ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(a.n, 1);
	net_listener_resume(l);
	while (a.n == 1)
		ev_run(loop, EVRUN_ONCE);
	close(a.fd);
	close(fd);
	net_listener_free(l);
	ev_loop_destroy(loop);
}

Test(net, wildcard_listens_on_both_families, .timeout = 10)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct net_listener *l = NULL;
	struct accepted a = { 0, -1, "" };
	char err[256];
	unsigned port;
	int fd, probe;

	/* Find a free port both families can use, then listen on "*". */
	probe = socket(AF_INET6, SOCK_STREAM, 0);
	if (probe < 0) {
		cr_skip_test("no IPv6 on this host");
	}
	close(probe);
	cr_assert_eq(net_listen(loop, "127.0.0.1:0", 16, on_accept, &a, &l, err,
				sizeof err), 0, "%s", err);
	port = net_listener_port(l);
	net_listener_free(l);
	snprintf(err, sizeof err, "*:%u", port);
	if (net_listen(loop, err, 16, on_accept, &a, &l, err, sizeof err) < 0)
		cr_skip_test("port %u taken meanwhile: %s", port, err);
	fd = connect_to(AF_INET, "127.0.0.1", port);
	while (a.n == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_str_eq(a.peer, "127.0.0.1");
	close(a.fd);
	close(fd);
	probe = socket(AF_INET6, SOCK_STREAM, 0);
	{
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
					   .sin6_port = htons((unsigned short)port) };

		inet_pton(AF_INET6, "::1", &s6.sin6_addr);
		if (connect(probe, (struct sockaddr *)&s6, sizeof s6) == 0) {
			while (a.n == 1)
				ev_run(loop, EVRUN_ONCE);
			cr_assert_str_eq(a.peer, "::1");
			close(a.fd);
		}
	}
	close(probe);
	net_listener_free(l);
	ev_loop_destroy(loop);
}

Test(net, listen_errors_are_reported)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct net_listener *l = NULL, *l2 = NULL;
	struct accepted a = { 0, -1, "" };
	char err[256], spec[64];

	cr_assert_eq(net_listen(loop, "127.0.0.1", 16, on_accept, &a, &l, err,
				sizeof err), -1);
	cr_assert_not_null(strstr(err, "missing port"), "%s", err);
	cr_assert_eq(net_listen(loop, "127.0.0.1:0", 16, on_accept, &a, &l, err,
				sizeof err), 0, "%s", err);
	snprintf(spec, sizeof spec, "127.0.0.1:%u", net_listener_port(l));
	cr_assert_eq(net_listen(loop, spec, 16, on_accept, &a, &l2, err,
				sizeof err), -1);
	cr_assert_not_null(strstr(err, "bind"), "%s", err);
	net_listener_free(l);
	ev_loop_destroy(loop);
}

Test(net, out_of_descriptors_backs_off_then_recovers, .timeout = 10)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct net_listener *l = NULL;
	struct accepted a = { 0, -1, "" };
	struct rlimit rl, low;
	char err[256];
	int fd, lowest, i;

	cr_assert_eq(net_listen(loop, "127.0.0.1:0", 16, on_accept, &a, &l, err,
				sizeof err), 0, "%s", err);
	fd = connect_to(AF_INET, "127.0.0.1", net_listener_port(l));
	/* No new descriptor can be made below the lowest free number. */
	lowest = dup(0);
	cr_assert_geq(lowest, 0);
	close(lowest);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = (rlim_t)lowest;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (i = 0; i < 10; i++)
		ev_run(loop, EVRUN_NOWAIT);
	cr_assert_eq(a.n, 0, "nothing accepted while out of descriptors");
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	/* The listener comes back by itself after its pause. */
	while (a.n == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_eq(a.n, 1);
	close(a.fd);
	close(fd);
	net_listener_free(l);
	ev_loop_destroy(loop);
}
