/* tests/fuzz/replay.c: runs one harness's LLVMFuzzerTestOneInput over its
 * stored inputs, so every build (gcc, ASan, valgrind) exercises the seed
 * corpus and the crashers found so far without clang or libFuzzer.
 *
 *   replay_NAME              corpus/NAME and crashers/NAME under
 *                            $KANTORPOS_SRCDIR/tests/fuzz
 *   replay_NAME FILE|DIR...  those inputs (to check a reproducer)
 *
 * A crash aborts the process, which the test harness reports; the last
 * "replay:" line names the input that did it. */
#include "autoconf.h"

#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/base/fsutil.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the harness"
#endif

/* Largest stored input replayed, as libFuzzer's default -max_len is far
 * below it. */
#define REPLAY_MAX (1024 * 1024)

static int replay_file(const char *path, unsigned *count)
{
	char *data;
	size_t len;

	if (fs_read_file(path, REPLAY_MAX, &data, &len) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* Say which input runs before running it: a crash ends the process. */
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	(*count)++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file in dir, in name order; a missing dir is empty when
 * optional. */
static int replay_dir(const char *dir, int optional, unsigned *count)
{
	char **names = NULL, *path;
	size_t n = 0;
	struct dirent *de;
	int rc = 0;
	DIR *d = opendir(dir);

	if (d == NULL) {
		if (optional && errno == ENOENT)
			return 0;
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char **grown;

		if (de->d_name[0] == '.')
			continue;
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (grown == NULL || (grown[n] = strdup(de->d_name)) == NULL) {
			names = grown != NULL ? grown : names;
			rc = -1;
			break;
		}
		names = grown;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (rc == 0 && asprintf(&path, "%s/%s", dir, names[i]) >= 0) {
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
			    replay_file(path, count) < 0)
				rc = -1;
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static int replay_arg(const char *path, unsigned *count)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return S_ISDIR(st.st_mode) ? replay_dir(path, 0, count)
				   : replay_file(path, count);
}

int main(int argc, char **argv)
{
	const char *src = getenv("KANTORPOS_SRCDIR");
	unsigned count = 0;
	char *dir;
	int rc = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay_arg(argv[i], &count) < 0)
				rc = 1;
	} else {
		if (src == NULL)
			src = ".";
		if (asprintf(&dir, "%s/tests/fuzz/corpus/%s", src, FUZZ_NAME) < 0)
			return 1;
		if (replay_dir(dir, 0, &count) < 0)
			rc = 1;
		free(dir);
		if (asprintf(&dir, "%s/tests/fuzz/crashers/%s", src, FUZZ_NAME) < 0)
			return 1;
		if (replay_dir(dir, 1, &count) < 0)
			rc = 1;
		free(dir);
	}
	if (rc == 0 && count == 0) {
		fprintf(stderr, "replay %s: no inputs found\n", FUZZ_NAME);
		rc = 1;
	}
	printf("replay %s: %u inputs, %s\n", FUZZ_NAME, count,
	       rc == 0 ? "no crash" : "errors");
	return rc;
}
