/* tests/helpers/testutil.h: scratch directories, small file helpers and free
 * loopback ports for the Criterion suites. Every test works in its own
 * mkdtemp directory. */
#ifndef KANTORPOS_TESTS_TESTUTIL_H
#define KANTORPOS_TESTS_TESTUTIL_H

#include <stddef.h>

/* A fresh private directory under $TMPDIR (or /tmp); aborts on failure.
 * The caller frees the string and removes the tree with tu_rmrf. */
char *tu_tmpdir(void);
/* rm -rf; errors are ignored. */
void tu_rmrf(const char *path);
/* "dir/name" in a heap buffer. */
char *tu_path(const char *dir, const char *name);
/* Write a whole file (truncating); aborts on failure. */
void tu_write_file(const char *path, const char *text);
/* Read a whole file into a heap string (NULL if it cannot be read). */
char *tu_read_file(const char *path, size_t *len_r);
/* Number of entries (other than . and ..) in a directory; -1 if missing. */
int tu_count_dir(const char *dir);

/* Plant linkpath -> target the way the user a store belongs to could: the
 * store refuses only a link in a directory someone other than root may
 * write to, so as root the link's directory (and the link) are given to
 * nobody; as anyone else they are that user's already. Aborts on failure. */
void tu_plant_link(const char *target, const char *linkpath);

/* Move path (a directory) to outside and plant path -> outside in its
 * place (tu_plant_link): what a user with the store's rights could do. */
void tu_replace_with_link(const char *path, const char *outside);

/* mkdir -p of every path (NULL-terminated), mode 0700; aborts on failure. */
void tu_mkdirs(const char *const *paths);

/* Regular files anywhere under dir (links not followed); -1 if missing. */
int tu_count_files(const char *dir);

/* A TCP port of 127.0.0.1 that was free a moment ago (bound to port 0 and
 * closed again), for a listener a test configures; aborts on failure. */
unsigned tu_free_port(void);

#endif
