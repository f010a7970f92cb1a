/* store/quota.c: per-maildir usage from file names, and the fits check. */
#include "autoconf.h"

#include "store/quota.h"
#include "store/mdname.h"

#include "common/base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int add_dir(const char *maildir, const char *sub,
		   struct quota_usage *u);

static int add_dir(const char *maildir, const char *sub,
		   struct quota_usage *u)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	if (snprintf(path, sizeof(path), "%s/%s", maildir, sub) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((d = fs_opendir_safe(AT_FDCWD, path)) == NULL)
		return errno == ENOENT ? 0 : -1;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		uint64_t size;

		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		if (!mdname_field(de->d_name, 'S', &size)) {
			struct stat st;

			/* Names from other tools may lack S=; stat is still
			 * far cheaper than reading the file. */
			if (fstatat(dirfd(d), de->d_name, &st,
				    AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode)) {
				errno = 0;
				continue;
			}
			size = (uint64_t)st.st_size;
		}
		u->bytes += size;
		u->messages++;
		errno = 0;
	}
	int saved = errno;

	closedir(d);
	errno = saved;
	return saved == 0 ? 0 : -1;
}

int quota_usage_get(const char *maildir, struct quota_usage *usage_r)
{
	struct quota_usage u = { 0, 0 };

	if (add_dir(maildir, "new", &u) < 0 || add_dir(maildir, "cur", &u) < 0)
		return -1;
	*usage_r = u;
	return 0;
}

bool quota_fits(const struct quota_usage *usage, uint64_t max_bytes,
		uint64_t max_messages, uint64_t bytes)
{
	if (max_bytes != 0 &&
	    (bytes > max_bytes || usage->bytes > max_bytes - bytes))
		return false;
	if (max_messages != 0 && usage->messages >= max_messages)
		return false;
	return true;
}

int quota_check(const char *maildir, uint64_t max_bytes,
		uint64_t max_messages, uint64_t bytes)
{
	struct quota_usage u;

	if (max_bytes == 0 && max_messages == 0)
		return 1;
	if (quota_usage_get(maildir, &u) < 0)
		return -1;
	if (quota_fits(&u, max_bytes, max_messages, bytes))
		return 1;
	errno = EDQUOT;
	return 0;
}
