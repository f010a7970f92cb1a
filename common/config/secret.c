/* common/config/secret.c: reading a password file for a remote server,
 * refusing files that others could read or change (the owner and mode
 * rule is common/config/safety.c's, the one `kantorpos check` applies). */
#include "autoconf.h"

#include "common/config/secret.h"

#include "common/config/safety.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int secret_read(const char *path, uid_t owner, char **pw_r, char *err,
		size_t errlen)
{
	char buf[SECRET_MAX + 1];
	struct safety_owner own;
	struct stat st;
	size_t len = 0, line;
	ssize_t n;
	int fd;

	*pw_r = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	safety_owner_uid(owner, &own);
	if (safety_check_stat(SAFETY_SECRET, path, &st, &own, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	while (len < sizeof(buf) &&
	       (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			sodium_memzero(buf, sizeof(buf));
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len > SECRET_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, SECRET_MAX);
		sodium_memzero(buf, sizeof(buf));
		return -1;
	}
	buf[len] = '\0';
	{
		const char *nl = memchr(buf, '\n', len);

		line = nl != NULL ? (size_t)(nl - buf) : len;
	}
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	if (line == 0 || memchr(buf, '\0', line) != NULL) {
		snprintf(err, errlen, "%s: %s", path,
			 line == 0 ? "the first line (the password) is empty"
				   : "the password holds a NUL byte");
		sodium_memzero(buf, sizeof(buf));
		return -1;
	}
	*pw_r = strndup(buf, line);
	sodium_memzero(buf, sizeof(buf));
	if (*pw_r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void secret_free(char *pw)
{
	if (pw != NULL) {
		sodium_memzero(pw, strlen(pw));
		free(pw);
	}
}
