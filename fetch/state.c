/* fetch/state.c: the per-account UIDL state file of the fetcher: parse,
 * format, atomic save, indexed lookups, fallback keys and pruning. */
#include "autoconf.h"

#include "fetch/state.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/fsutil.h"

#define FST_MAGIC "kantorpos-fetch-state 1"
#define FST_MAX_RCPTS 1000

static bool fst_word_ok(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len == 0 || len > max)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

bool fst_uid_ok(const char *s)
{
	return fst_word_ok(s, FST_UID_MAX);
}

bool fst_is_key(const char *uid)
{
	return strncmp(uid, FST_KEY_PREFIX, sizeof(FST_KEY_PREFIX) - 1) == 0;
}

void fst_key(const char *hdr, size_t len, unsigned long long size,
	     char key[FST_KEY_SIZE])
{
	crypto_generichash_state h;
	unsigned char out[16];
	char sz[32];
	int n = snprintf(sz, sizeof(sz), "%llu\n", size);

	crypto_generichash_init(&h, NULL, 0, sizeof(out));
	crypto_generichash_update(&h, (const unsigned char *)sz, (size_t)n);
	crypto_generichash_update(&h, (const unsigned char *)hdr, len);
	crypto_generichash_final(&h, out, sizeof(out));
	memcpy(key, FST_KEY_PREFIX, sizeof(FST_KEY_PREFIX) - 1);
	sodium_bin2hex(key + sizeof(FST_KEY_PREFIX) - 1, 33, out, sizeof(out));
}

static void fst_entry_free(struct fst_entry *e)
{
	free(e->uid);
	free(e->msgid);
	for (size_t i = 0; i < e->n_rcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	memset(e, 0, sizeof(*e));
}

void fst_free(struct fst *st)
{
	for (size_t i = 0; i < st->n; i++)
		fst_entry_free(&st->e[i]);
	free(st->e);
	sm_free(&st->by_uid);
	sm_free(&st->by_msgid);
	memset(st, 0, sizeof(*st));
}

struct fst_entry *fst_find(const struct fst *st, const char *uid)
{
	struct sm_iter it;

	for (uint32_t v = sm_first(&st->by_uid, uid, &it); v != SM_NONE;
	     v = sm_next(&st->by_uid, &it))
		if (v < st->n && strcmp(st->e[v].uid, uid) == 0)
			return &st->e[v];
	return NULL;
}

/* Index entry i by its uid (new entries) and its Message-ID. */
static int fst_index(struct fst *st, size_t i, bool uid)
{
	const struct fst_entry *e = &st->e[i];

	if (uid && sm_add(&st->by_uid, e->uid, (uint32_t)i) < 0)
		return -1;
	if (e->msgid != NULL && sm_add(&st->by_msgid, e->msgid, (uint32_t)i) < 0)
		return -1;
	return 0;
}

/* Rebuild both indexes after entries moved. */
static int fst_reindex(struct fst *st)
{
	sm_clear(&st->by_uid);
	sm_clear(&st->by_msgid);
	for (size_t i = 0; i < st->n; i++)
		if (fst_index(st, i, true) < 0)
			return -1;
	return 0;
}

int fst_set(struct fst *st, const char *uid, time_t when, char flag,
	    const char *msgid, const char *const *rcpts, size_t n_rcpts)
{
	struct fst_entry e = { .time = when, .flag = flag, .seen = true }, *old;

	if (!fst_uid_ok(uid) || (flag != FST_DELIVERED && flag != FST_SKIPPED)) {
		errno = EINVAL;
		return -1;
	}
	e.uid = strdup(uid);
	if (msgid != NULL && fst_word_ok(msgid, 1000))
		e.msgid = strdup(msgid);
	e.rcpts = calloc(n_rcpts + 1, sizeof(*e.rcpts));
	if (e.uid == NULL || (msgid != NULL && fst_word_ok(msgid, 1000) &&
			      e.msgid == NULL) || e.rcpts == NULL)
		goto oom;
	for (size_t i = 0; i < n_rcpts && i < FST_MAX_RCPTS; i++) {
		if (!fst_word_ok(rcpts[i], 1000))
			continue;
		if ((e.rcpts[e.n_rcpts] = strdup(rcpts[i])) == NULL)
			goto oom;
		e.n_rcpts++;
	}
	if ((old = fst_find(st, uid)) != NULL) {
		/* The marks of this run stay with the uid. */
		e.seen_num = old->seen_num;
		e.seen_twice = old->seen_twice;
		if (e.msgid != NULL &&
		    sm_add(&st->by_msgid, e.msgid, (uint32_t)(old - st->e)) < 0)
			goto oom;
		fst_entry_free(old);
		*old = e;
		return 0;
	}
	if (st->n >= SM_NONE - 1)
		goto oom;
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		struct fst_entry *grown = realloc(st->e, cap * sizeof(*grown));

		if (grown == NULL)
			goto oom;
		st->e = grown;
		st->cap = cap;
	}
	st->e[st->n] = e;
	/* A slot added before a failure is a stale candidate: lookups
	 * compare the strings. */
	if (fst_index(st, st->n, true) < 0)
		goto oom;
	st->n++;
	return 0;
oom:
	fst_entry_free(&e);
	errno = ENOMEM;
	return -1;
}

bool fst_delivered(const struct fst *st, const char *msgid,
		   const char *rcpt)
{
	struct sm_iter it;

	if (msgid == NULL)
		return false;
	for (uint32_t v = sm_first(&st->by_msgid, msgid, &it); v != SM_NONE;
	     v = sm_next(&st->by_msgid, &it)) {
		const struct fst_entry *e;

		/* Replaced entries leave stale candidates: compare. */
		if (v >= st->n)
			continue;
		e = &st->e[v];
		if (e->flag != FST_DELIVERED || e->msgid == NULL ||
		    strcmp(e->msgid, msgid) != 0)
			continue;
		for (size_t j = 0; j < e->n_rcpts; j++)
			if (strcmp(e->rcpts[j], rcpt) == 0)
				return true;
	}
	return false;
}

size_t fst_prune(struct fst *st, bool uids, bool keys)
{
	size_t kept = 0, dropped = 0;

	for (size_t i = 0; i < st->n; i++) {
		bool key = fst_is_key(st->e[i].uid);

		if (st->e[i].seen || (key ? !keys : !uids)) {
			st->e[kept++] = st->e[i];
		} else {
			fst_entry_free(&st->e[i]);
			dropped++;
		}
	}
	st->n = kept;
	/* Out of memory here only loses lookups a later reindex rebuilds;
	 * with fewer entries the indexes never need to grow, so it cannot. */
	if (dropped > 0)
		fst_reindex(st);
	return dropped;
}

static int fst_fail(struct fst *st, char *err, size_t errlen,
		    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fst_fail(struct fst *st, char *err, size_t errlen,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	fst_free(st);
	return -1;
}

int fst_parse(const char *text, size_t len, struct fst *st, char *err,
	      size_t errlen)
{
	char *copy = strndup(text, len), *line, *next;
	unsigned lineno = 0;

	if (copy == NULL)
		return fst_fail(st, err, errlen, "out of memory");
	if (strlen(copy) != len) {
		free(copy);
		return fst_fail(st, err, errlen, "NUL byte in the state file");
	}
	for (line = copy; line != NULL && *line != '\0'; line = next) {
		char *words[4 + FST_MAX_RCPTS], *q, *end, *save = NULL;
		size_t n = 0;
		unsigned long long t;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (lineno == 1) {
			if (strcmp(line, FST_MAGIC) != 0) {
				free(copy);
				return fst_fail(st, err, errlen,
					"line 1: expected \"" FST_MAGIC "\"");
			}
			continue;
		}
		for (q = strtok_r(line, " ", &save);
		     q != NULL && n < 4 + FST_MAX_RCPTS;
		     q = strtok_r(NULL, " ", &save))
			words[n++] = q;
		errno = 0;
		if (n < 4 || !fst_uid_ok(words[0]) || words[1][0] < '0' ||
		    words[1][0] > '9' ||
		    (t = strtoull(words[1], &end, 10), *end != '\0') ||
		    errno != 0 || strlen(words[2]) != 1 ||
		    (words[2][0] != FST_DELIVERED && words[2][0] != FST_SKIPPED)) {
			free(copy);
			return fst_fail(st, err, errlen, "line %u: malformed entry",
					lineno);
		}
		if (fst_set(st, words[0], (time_t)t, words[2][0],
			    strcmp(words[3], "-") == 0 ? NULL : words[3],
			    (const char *const *)words + 4, n - 4) < 0) {
			free(copy);
			return fst_fail(st, err, errlen, "line %u: %s", lineno,
					strerror(errno));
		}
	}
	free(copy);
	if (lineno == 0 && len > 0)
		return fst_fail(st, err, errlen, "empty first line");
	/* A run marks what its server still has. */
	for (size_t i = 0; i < st->n; i++)
		st->e[i].seen = false;
	return 0;
}

char *fst_format(const struct fst *st, size_t *len_r)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	fprintf(f, "%s\n", FST_MAGIC);
	for (size_t i = 0; i < st->n; i++) {
		const struct fst_entry *e = &st->e[i];

		fprintf(f, "%s %llu %c %s", e->uid, (unsigned long long)e->time,
			e->flag, e->msgid != NULL ? e->msgid : "-");
		for (size_t j = 0; j < e->n_rcpts; j++)
			fprintf(f, " %s", e->rcpts[j]);
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len_r = size;
	return buf;
}

int fst_load(const char *path, struct fst *st, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int fd, rc;

	/* In DATA/fetch: a link there is refused (common/base/fsutil.h). */
	fd = fs_openat_safe(AT_FDCWD, path, O_RDONLY, 0);
	if (fd < 0 ||
	    fs_close_keep(fd, fs_read_fd(fd, FST_FILE_MAX, &text, &len)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = fst_parse(text, len, st, err, errlen);
	free(text);
	if (rc < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: %s", path, why);
	}
	return rc;
}

int fst_save(const char *path, const struct fst *st)
{
	size_t len = 0;
	char *text = fst_format(st, &len);
	int rc;

	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = fs_write_file_atomic(path, text, len, 0600);
	free(text);
	return rc;
}
