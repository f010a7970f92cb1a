/* fetch/listing.c: the server's listing of one run (UIDL, then LIST),
 * line by line, into the bounded set of messages that need work. */
#include "autoconf.h"

#include "fetch/listing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FLIST_UIDL_BIT 1u
#define FLIST_LIST_BIT 2u

int flist_init(struct flist *l, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->max = max > 0 ? max : 1;
	return 0;
}

void flist_free(struct flist *l)
{
	free(l->m);
	free(l->pool);
	free(l->nums);
	sm_free(&l->by_uid);
	memset(l, 0, sizeof(*l));
}

bool flist_due(const struct fst_entry *e, const struct flist_rule *rule)
{
	if (e->flag != FST_DELIVERED)
		return false;
	return !rule->keep ||
	       (rule->keep_days > 0 &&
		rule->now - e->time >= (time_t)rule->keep_days * 86400);
}

const char *flist_uid(const struct flist *l, const struct flist_msg *m)
{
	if (m->uid == 0 || m->shared)
		return NULL;
	return l->pool + m->uid - 1;
}

/* The bits of message number num (1..FLIST_NUM_MAX), set in `set`; the
 * old bits, or -1 when out of memory. */
static int flist_bits(struct flist *l, uint32_t num, unsigned set)
{
	size_t byte = num / 4, shift = (num % 4) * 2;
	unsigned old;

	if (byte >= l->nums_len) {
		size_t len = l->nums_len ? l->nums_len : 4096;
		unsigned char *grown;

		while (len <= byte)
			len *= 2;
		if ((grown = realloc(l->nums, len)) == NULL)
			return -1;
		memset(grown + l->nums_len, 0, len - l->nums_len);
		l->nums = grown;
		l->nums_len = len;
	}
	old = (l->nums[byte] >> shift) & 3u;
	l->nums[byte] |= (unsigned char)(set << shift);
	return (int)old;
}

/* A message number: 1 to FLIST_NUM_MAX decimal digits at *p, moved past
 * them and the blanks after; 0 when there is none. */
static uint32_t flist_num(const char **p, const char *end)
{
	uint64_t v = 0;
	const char *q = *p;

	while (q < end && *q >= '0' && *q <= '9' && v <= FLIST_NUM_MAX)
		v = v * 10 + (uint64_t)(*q++ - '0');
	if (q == *p || v == 0 || v > FLIST_NUM_MAX ||
	    (q < end && *q != ' ' && *q != '\t'))
		return 0;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	*p = q;
	return (uint32_t)v;
}

/* Keep a message needing work (uid NULL: none). -1 when out of memory;
 * 0 also when the listing is full (counted as capped). */
static int flist_add(struct flist *l, uint32_t num, const char *uid,
		     bool shared, struct flist_msg **m_r)
{
	struct flist_msg *m;

	if (m_r != NULL)
		*m_r = NULL;
	if (l->n >= l->max) {
		l->capped++;
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct flist_msg *grown;

		if (cap > l->max)
			cap = l->max;
		if ((grown = realloc(l->m, cap * sizeof(*grown))) == NULL)
			return -1;
		l->m = grown;
		l->cap = cap;
	}
	m = &l->m[l->n];
	*m = (struct flist_msg){ .num = num, .shared = shared };
	if (uid != NULL) {
		size_t len = strlen(uid) + 1;

		if (l->pool_cap - l->pool_len < len) {
			size_t cap = l->pool_cap ? 2 * l->pool_cap : 4096;
			char *grown;

			while (cap - l->pool_len < len)
				cap *= 2;
			if (cap > UINT32_MAX ||
			    (grown = realloc(l->pool, cap)) == NULL)
				return -1;
			l->pool = grown;
			l->pool_cap = cap;
		}
		if (sm_add(&l->by_uid, uid, (uint32_t)l->n) < 0)
			return -1;
		memcpy(l->pool + l->pool_len, uid, len);
		m->uid = (uint32_t)l->pool_len + 1;
		l->pool_len += len;
	}
	l->n++;
	if (m_r != NULL)
		*m_r = m;
	return 0;
}

/* The kept message with this uid, or NULL. */
static struct flist_msg *flist_by_uid(struct flist *l, const char *uid)
{
	struct sm_iter it;

	for (uint32_t v = sm_first(&l->by_uid, uid, &it); v != SM_NONE;
	     v = sm_next(&l->by_uid, &it))
		if (strcmp(l->pool + l->m[v].uid - 1, uid) == 0)
			return &l->m[v];
	return NULL;
}

/* A second message with a uid already listed: neither is identified by
 * it. first_num: the first holder when it was not kept (0: it was). */
static int flist_shared(struct flist *l, struct flist_msg *first,
			uint32_t first_num, uint32_t num)
{
	if (first != NULL) {
		if (!first->shared)
			l->shared_uid++;
		first->shared = true;
	} else if (first_num != 0) {
		l->shared_uid++;
		if (flist_add(l, first_num, NULL, true, NULL) < 0)
			return -1;
	}
	l->shared_uid++;
	return flist_add(l, num, NULL, true, NULL);
}

/* A usable uid for message num. */
static int flist_uid_line(struct flist *l, struct fst *st,
			  const struct flist_rule *rule, uint32_t num,
			  const char *uid)
{
	struct fst_entry *e = fst_find(st, uid);
	struct flist_msg *kept = flist_by_uid(l, uid);

	if (e != NULL && e->seen) {
		uint32_t first = e->seen_twice ? 0 : e->seen_num;

		e->seen_twice = true;
		return flist_shared(l, kept, kept != NULL ? 0 : first, num);
	}
	if (e != NULL) {
		e->seen = true;
		e->seen_num = num;
		return flist_due(e, rule) ? flist_add(l, num, uid, false, NULL)
					  : 0;
	}
	if (kept != NULL)
		return flist_shared(l, kept, 0, num);
	return flist_add(l, num, uid, false, NULL);
}

int flist_uidl_line(struct flist *l, struct fst *st,
		    const struct flist_rule *rule, const char *line,
		    size_t len, bool overlong)
{
	const char *p = line, *end = line + len;
	uint32_t num = flist_num(&p, end);
	char uid[FST_UID_MAX + 1];
	size_t ulen;
	int bits;

	if (num == 0) {
		l->ignored++;
		return 0;
	}
	if ((bits = flist_bits(l, num, FLIST_UIDL_BIT)) < 0)
		return -1;
	if (bits & FLIST_UIDL_BIT) {
		l->ignored++;
		return 0;
	}
	l->uidl_lines++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	ulen = (size_t)(end - p);
	if (!overlong && ulen <= FST_UID_MAX) {
		memcpy(uid, p, ulen);
		uid[ulen] = '\0';
		if (fst_uid_ok(uid) && !fst_is_key(uid))
			return flist_uid_line(l, st, rule, num, uid);
	}
	l->bad_uid++;
	return flist_add(l, num, NULL, false, NULL);
}

static int flist_cmp_num(const void *a, const void *b)
{
	const struct flist_msg *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

void flist_uidl_end(struct flist *l, bool ok)
{
	l->have_uidl = ok;
	if (l->n > 1)
		qsort(l->m, l->n, sizeof(*l->m), flist_cmp_num);
	l->n_sorted = l->n;
	/* The uid index pointed at positions that just moved. */
	sm_free(&l->by_uid);
}

static struct flist_msg *flist_by_num(struct flist *l, uint32_t num)
{
	struct flist_msg key = { .num = num };

	if (l->n_sorted == 0)
		return NULL;
	return bsearch(&key, l->m, l->n_sorted, sizeof(*l->m), flist_cmp_num);
}

int flist_list_line(struct flist *l, const char *line, size_t len,
		    bool overlong)
{
	const char *p = line, *end = line + len;
	uint32_t num = flist_num(&p, end);
	uint64_t size = 0;
	struct flist_msg *m;
	int bits;

	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (num == 0 || overlong || p == end) {
		l->ignored++;
		return 0;
	}
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || size > (UINT64_MAX - 9) / 10) {
			l->ignored++;
			return 0;
		}
		size = size * 10 + (uint64_t)(*p - '0');
	}
	if ((bits = flist_bits(l, num, FLIST_LIST_BIT)) < 0)
		return -1;
	if (bits & FLIST_LIST_BIT) {
		l->ignored++;
		return 0;
	}
	l->list_lines++;
	if (l->have_uidl && (bits & FLIST_UIDL_BIT)) {
		/* Not kept: handled already, or left for the next run. */
		m = flist_by_num(l, num);
	} else {
		if (l->have_uidl)
			l->no_uidl++;
		if (flist_add(l, num, NULL, false, &m) < 0)
			return -1;
	}
	if (m != NULL) {
		m->size = size;
		m->sized = true;
	}
	return 0;
}

static int flist_cmp_size(const void *a, const void *b)
{
	const struct flist_msg *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return flist_cmp_num(a, b);
}

void flist_list_end(struct flist *l)
{
	size_t kept = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->m[i].sized)
			l->m[kept++] = l->m[i];
	l->n = kept;
	if (l->n > 1)
		qsort(l->m, l->n, sizeof(*l->m), flist_cmp_size);
	l->n_sorted = 0;
	free(l->nums);
	l->nums = NULL;
	l->nums_len = 0;
}
