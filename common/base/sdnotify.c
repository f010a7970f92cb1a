/* common/base/sdnotify.c: the service manager notification protocol (one
 * datagram to $NOTIFY_SOCKET), for systemd's Type=notify units. */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/sdnotify.h"

/* Room for the few assignments sent here, STATUS= text included. */
#define SDNOTIFY_MAX 512

/* A failure is worth one warning, not one per reload. */
static bool warned;

/* "/path" or "@abstract" into *sa; returns its length, or 0 (EINVAL). */
static socklen_t notify_addr(const char *name, struct sockaddr_un *sa)
{
	size_t len = strlen(name);

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if ((name[0] != '/' && name[0] != '@') || len < 2 ||
	    len >= sizeof sa->sun_path) {
		errno = EINVAL;
		return 0;
	}
	memcpy(sa->sun_path, name, len);
	if (name[0] == '@') {
		/* Abstract: a leading NUL, and the length says where the
		 * name ends (no terminating NUL belongs to it). */
		sa->sun_path[0] = '\0';
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

int sdnotify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	ssize_t n = -1;
	int fd, saved;

	if (name == NULL || name[0] == '\0')
		return 0;
	salen = notify_addr(name, &sa);
	if (salen != 0 &&
	    (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0)) >= 0) {
		n = sendto(fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL,
			   (const struct sockaddr *)&sa, salen);
		saved = errno;
		close(fd);
		errno = saved;
	}
	if (n >= 0)
		return 1;
	if (!warned) {
		saved = errno;
		warned = true;
		log_warn("NOTIFY_SOCKET=%s: cannot tell the service manager "
			 "\"%.*s\"", name, (int)strcspn(state, "\n"), state);
		errno = saved;
	}
	return -1;
}

int sdnotify_ready(const char *status)
{
	char msg[SDNOTIFY_MAX];

	if (status == NULL)
		return sdnotify_send("READY=1");
	/* One line: a newline in the text would start another assignment. */
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=%.*s",
		 (int)strcspn(status, "\n"), status);
	return sdnotify_send(msg);
}

int sdnotify_reloading(void)
{
	struct timespec ts;
	char msg[SDNOTIFY_MAX];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000ULL);
	return sdnotify_send(msg);
}

int sdnotify_stopping(void)
{
	return sdnotify_send("STOPPING=1");
}
