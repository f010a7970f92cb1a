/* tests/helpers/testutil.c: scratch directories, file helpers and free ports
 * for tests. */
#include "autoconf.h"

#include "tests/helpers/testutil.h"
#include "common/base/fsutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/kantorpos-test.XXXXXX", base) < 0)
		abort();
	if (mkdtemp(path) == NULL)
		abort();
	return path;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void tu_rmrf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(const char *dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	return path;
}

void tu_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || fs_write_all(fd, text, strlen(text)) < 0)
		abort();
	close(fd);
}

char *tu_read_file(const char *path, size_t *len_r)
{
	char *data;

	if (fs_read_file(path, 1 << 30, &data, len_r) < 0)
		return NULL;
	return data;
}

int tu_count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

void tu_plant_link(const char *target, const char *linkpath)
{
	char *copy = strdup(linkpath);
	struct passwd *pw;

	if (copy == NULL || symlink(target, linkpath) < 0)
		abort();
	if (geteuid() == 0) {
		if ((pw = getpwnam("nobody")) == NULL ||
		    lchown(linkpath, pw->pw_uid, pw->pw_gid) < 0 ||
		    lchown(dirname(copy), pw->pw_uid, pw->pw_gid) < 0)
			abort();
	}
	free(copy);
}

void tu_replace_with_link(const char *path, const char *outside)
{
	if (rename(path, outside) < 0)
		abort();
	tu_plant_link(outside, path);
}

void tu_mkdirs(const char *const *paths)
{
	for (size_t i = 0; paths[i] != NULL; i++)
		if (fs_mkdir_p(paths[i], 0700) < 0)
			abort();
}

static int files_seen;

static int count_file(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)path;
	(void)st;
	(void)ftw;
	if (flag == FTW_F)
		files_seen++;
	return 0;
}

int tu_count_files(const char *dir)
{
	files_seen = 0;
	if (nftw(dir, count_file, 16, FTW_PHYS) < 0)
		return -1;
	return files_seen;
}

unsigned tu_free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		abort();
	close(fd);
	return ntohs(sin.sin_port);
}
