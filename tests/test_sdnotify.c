/* tests/test_sdnotify.c: the service manager notifications (common/base/sdnotify)
 * received on a unix datagram socket at a temporary path and on an
 * abstract one, what each call sends, bad NOTIFY_SOCKET names, the one
 * warning per process, and that a receiver that never reads cannot block
 * the sender. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/sdnotify.h"
#include "tests/helpers/testutil.h"

static char *dir;

static void setup(void)
{
	dir = tu_tmpdir();
	unsetenv("NOTIFY_SOCKET");
	log_init("test_sdnotify", true);
}

static void teardown(void)
{
	tu_rmrf(dir);
	free(dir);
}

TestSuite(sdnotify, .init = setup, .fini = teardown, .timeout = 20);

/* A datagram socket bound to name ("/path" or "@abstract"), with
 * NOTIFY_SOCKET set to it; the receive side has a 2-second timeout. */
static int bind_notify(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	size_t len = strlen(name);
	socklen_t salen;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(len, sizeof sa.sun_path);
	memcpy(sa.sun_path, name, len);
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, salen), 0, "bind %s: %s",
		     name, strerror(errno));
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv),
		     0);
	cr_assert_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
	return fd;
}

/* The next datagram, as a string. */
static void recv_text(int fd, char *buf, size_t size)
{
	ssize_t n = recv(fd, buf, size - 1, 0);

	cr_assert_geq(n, 0, "no datagram: %s", strerror(errno));
	buf[n] = '\0';
}

static unsigned long long now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	       (unsigned long long)ts.tv_nsec / 1000ULL;
}

/* Every call, and what it must put on the wire. */
static void check_messages(int fd)
{
	static const struct {
		const char *status; /* for sdnotify_ready */
		const char *want;
	} ready[] = {
		{ NULL, "READY=1" },
		{ "serving 3 listeners", "READY=1\nSTATUS=serving 3 listeners" },
		{ "one\nREADY=0", "READY=1\nSTATUS=one" },
		{ "", "READY=1\nSTATUS=" },
	};
	unsigned long long before, after, usec;
	char buf[1024];
	int used = 0;

	for (size_t i = 0; i < sizeof ready / sizeof ready[0]; i++) {
		cr_assert_eq(sdnotify_ready(ready[i].status), 1);
		recv_text(fd, buf, sizeof buf);
		cr_assert_str_eq(buf, ready[i].want);
	}
	cr_assert_eq(sdnotify_send("WATCHDOG=1\nSTATUS=x"), 1);
	recv_text(fd, buf, sizeof buf);
	cr_assert_str_eq(buf, "WATCHDOG=1\nSTATUS=x");

	before = now_usec();
	cr_assert_eq(sdnotify_reloading(), 1);
	after = now_usec();
	recv_text(fd, buf, sizeof buf);
	cr_assert_eq(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%llu%n", &usec,
			    &used), 1, "%s", buf);
	cr_assert_eq(buf[used], '\0', "nothing after the time: %s", buf);
	cr_assert(usec >= before && usec <= after, "%llu not in [%llu, %llu]",
		  usec, before, after);

	cr_assert_eq(sdnotify_stopping(), 1);
	recv_text(fd, buf, sizeof buf);
	cr_assert_str_eq(buf, "STOPPING=1");
}

Test(sdnotify, without_notify_socket_nothing_is_sent)
{
	cr_assert_eq(sdnotify_ready("x"), 0);
	cr_assert_eq(sdnotify_reloading(), 0);
	cr_assert_eq(sdnotify_stopping(), 0);
	cr_assert_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
	cr_assert_eq(sdnotify_send("READY=1"), 0, "empty is unset");
}

Test(sdnotify, path_socket_gets_every_message)
{
	char *path = tu_path(dir, "notify");
	int fd = bind_notify(path);

	check_messages(fd);
	close(fd);
	free(path);
}

Test(sdnotify, abstract_socket_gets_every_message)
{
	char name[64];
	int fd;

	snprintf(name, sizeof name, "@kantorpos-test-sdnotify-%ld-%ld",
		 (long)getpid(), (long)time(NULL));
	fd = bind_notify(name);
	check_messages(fd);
	close(fd);
}

Test(sdnotify, bad_names_are_refused)
{
	static const char *names[] = { "relative/notify", "@", "/", "x",
				       "vsock:2:1234" };
	char longname[200];

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		cr_assert_eq(setenv("NOTIFY_SOCKET", names[i], 1), 0);
		errno = 0;
		cr_assert_eq(sdnotify_ready(NULL), -1, "%s", names[i]);
		cr_assert_eq(errno, EINVAL, "%s: %s", names[i],
			     strerror(errno));
	}
	memset(longname, 'a', sizeof longname - 1);
	longname[0] = '/';
	longname[sizeof longname - 1] = '\0';
	cr_assert_eq(setenv("NOTIFY_SOCKET", longname, 1), 0);
	cr_assert_eq(sdnotify_stopping(), -1);
	cr_assert_eq(errno, EINVAL);
	longname[0] = '@';
	cr_assert_eq(setenv("NOTIFY_SOCKET", longname, 1), 0);
	cr_assert_eq(sdnotify_stopping(), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(sdnotify, a_missing_socket_fails_with_one_warning)
{
	char *path = tu_path(dir, "nobody-listens");
	char *logpath = tu_path(dir, "stderr");
	char *text, *p;
	int logfd, saved, warnings = 0;

	cr_assert_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(logfd, 0);
	saved = dup(STDERR_FILENO);
	cr_assert_geq(saved, 0);
	cr_assert_eq(dup2(logfd, STDERR_FILENO), STDERR_FILENO);
	cr_assert_eq(sdnotify_ready(NULL), -1);
	cr_assert_eq(errno, ENOENT, "%s", strerror(errno));
	cr_assert_eq(sdnotify_reloading(), -1);
	cr_assert_eq(sdnotify_stopping(), -1);
	fflush(stderr);
	cr_assert_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(logfd);
	text = tu_read_file(logpath, NULL);
	cr_assert_not_null(text);
	for (p = text; (p = strstr(p, "NOTIFY_SOCKET=")) != NULL; p++)
		warnings++;
	cr_assert_eq(warnings, 1, "one warning, got:\n%s", text);
	cr_assert_not_null(strstr(text, "\"READY=1\""), "%s", text);
	free(text);
	free(logpath);
	free(path);
}

Test(sdnotify, a_receiver_that_never_reads_cannot_block)
{
	char *path = tu_path(dir, "notify");
	int fd = bind_notify(path), rc = 1, i;

	/* The kernel queues a bounded number of datagrams for a receiver
	 * (net.unix.max_dgram_qlen); past that a blocking sender would
	 * wait for ever. The test's timeout catches a send that blocks. */
	for (i = 0; i < 100000 && rc == 1; i++)
		rc = sdnotify_stopping();
	cr_assert_eq(rc, -1, "still sending after %d datagrams", i);
	cr_assert_eq(errno, EAGAIN, "%s", strerror(errno));
	close(fd);
	free(path);
}
