/* tests/test_hugepage.c: the mmap interposer: which mappings it asks for
 * in huge pages, that all others pass through unchanged, its errors, and
 * password hashing and verification through it. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/base/hugepage.h"
#include "common/users/password.h"
#include "tests/helpers/testutil.h"

#define MIB ((size_t)1 << 20)

static int thp_usable(void);
static int vma_flags(const void *p, char *flags, size_t size,
		     long *anon_huge_kb_r);
static int has_hg(const void *p);
static void fill_and_check(unsigned char *p, size_t len);

/* Transparent huge pages compiled into the kernel and not "[never]". */
static int thp_usable(void)
{
	char *mode = tu_read_file("/sys/kernel/mm/transparent_hugepage/enabled",
				  NULL);
	int usable = mode != NULL && strstr(mode, "[never]") == NULL;

	free(mode);
	return usable;
}

/* The VmFlags line and AnonHugePages of the mapping that holds p, from
 * /proc/self/smaps. Returns 0, or -1 if no mapping holds p. */
static int vma_flags(const void *p, char *flags, size_t size,
		     long *anon_huge_kb_r)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int inside = 0, found = -1;
	uintptr_t a = (uintptr_t)p;

	cr_assert_not_null(f);
	*anon_huge_kb_r = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		uintptr_t lo, hi;
		long kb;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = lo <= a && a < hi;
		} else if (inside &&
			   sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
			*anon_huge_kb_r = kb;
		} else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(flags, size, "%s", line + 8);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Does the mapping holding p carry MADV_HUGEPAGE ("hg")? */
static int has_hg(const void *p)
{
	char flags[512];
	long kb;

	cr_assert_eq(vma_flags(p, flags, sizeof(flags), &kb), 0,
		     "no mapping holds %p", p);
	return strstr(flags, " hg") != NULL;
}

/* Write a pattern over every page and read it back. */
static void fill_and_check(unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = (unsigned char)(i / 4096 * 7 + 1);
	p[len - 1] = 0xa5;
	for (size_t i = 0; i < len; i += 4096)
		cr_assert_eq(p[i], (unsigned char)(i / 4096 * 7 + 1), "at %zu", i);
	cr_assert_eq(p[len - 1], 0xa5);
}

Test(hugepage, passes_through_until_enabled)
{
	unsigned char *p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
				0);

	cr_assert_neq(p, MAP_FAILED, "%s", strerror(errno));
	fill_and_check(p, 4 * MIB);
	cr_assert_not(has_hg(p));
	cr_assert_eq(hugepage_count(), 0);
	cr_assert_eq(munmap(p, 4 * MIB), 0);
}

Test(hugepage, large_populated_anonymous_mapping_asks_for_huge_pages)
{
	unsigned char *p;
	unsigned long before;
	char flags[512];
	long kb;

	if (!hugepage_enable())
		cr_skip_test("mmap is not interposed in this build");
	cr_assert_eq(hugepage_enable(), 1, "idempotent");
	before = hugepage_count();
	errno = 4242;
	p = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	cr_assert_neq(p, MAP_FAILED, "%s", strerror(errno));
	cr_assert_eq(errno, 4242, "errno left alone on success");
	cr_assert_eq(hugepage_count(), before + 1);
	fill_and_check(p, 4 * MIB);
	cr_assert_eq(vma_flags(p, flags, sizeof(flags), &kb), 0);
	cr_log_info("VmFlags:%s AnonHugePages: %ld kB", flags, kb);
	if (thp_usable())
		cr_assert(strstr(flags, " hg") != NULL || kb > 0,
			  "VmFlags:%s AnonHugePages: %ld kB", flags, kb);
	cr_assert_eq(munmap(p, 4 * MIB), 0);
}

Test(hugepage, other_mappings_pass_through)
{
	char *dir = tu_tmpdir(), *path = tu_path(dir, "file");
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	struct {
		const char *what;
		size_t len;
		int prot, flags, file;
	} rows[] = {
		{ "small anonymous, populated", HUGEPAGE_MIN_LEN - 4096,
		  PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, 0 },
		{ "large anonymous, not populated", 4 * MIB,
		  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0 },
		{ "large shared anonymous, populated", 4 * MIB,
		  PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, 0 },
		{ "large private file, populated", 4 * MIB,
		  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_POPULATE, 1 },
		{ "large shared file, populated", 4 * MIB,
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, 1 },
	};

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)(4 * MIB)), 0);
	cr_assert_eq(pwrite(fd, "kp", 2, 0), 2);
	(void)hugepage_enable();
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned long before = hugepage_count();
		unsigned char *p = mmap(NULL, rows[i].len, rows[i].prot,
					rows[i].flags, rows[i].file ? fd : -1,
					0);

		cr_assert_neq(p, MAP_FAILED, "%s: %s", rows[i].what,
			      strerror(errno));
		if (rows[i].file)
			cr_assert(memcmp(p, "kp", 2) == 0, "%s", rows[i].what);
		fill_and_check(p, rows[i].len);
		cr_assert_not(has_hg(p), "%s", rows[i].what);
		cr_assert_eq(hugepage_count(), before, "%s", rows[i].what);
		cr_assert_eq(munmap(p, rows[i].len), 0);
	}
	close(fd);
	tu_rmrf(dir);
	free(path);
	free(dir);
}

Test(hugepage, failures_return_map_failed_with_errno)
{
	int fd = open("/dev/null", O_RDONLY);
	struct {
		const char *what;
		void *addr;
		size_t len;
		int flags, fd, err, alt; /* alt: another errno allowed, or 0 */
	} rows[] = {
		{ "closed descriptor", NULL, 4 * MIB,
		  MAP_PRIVATE | MAP_POPULATE, -1, EBADF, 0 },
		{ "no length", NULL, 0,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, EINVAL, 0 },
		{ "neither private nor shared", NULL, 4 * MIB,
		  MAP_ANONYMOUS | MAP_POPULATE, -1, EINVAL, 0 },
		/* These two take the huge-page path; valgrind refuses the
		 * first length itself, with EINVAL. */
		{ "more than the address space", NULL, (size_t)1 << 62,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, ENOMEM,
		  EINVAL },
		{ "fixed address not page aligned", (void *)(uintptr_t)0x10001,
		  4 * MIB, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_FIXED,
		  -1, EINVAL, 0 },
	};

	cr_assert_geq(fd, 0);
	rows[0].fd = fd;
	cr_assert_eq(close(fd), 0);
	(void)hugepage_enable();
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned long before = hugepage_count();
		void *p;

		errno = 0;
		p = mmap(rows[i].addr, rows[i].len, PROT_READ | PROT_WRITE,
			 rows[i].flags, rows[i].fd, 0);
		cr_assert_eq(p, MAP_FAILED, "%s", rows[i].what);
		cr_assert(errno == rows[i].err ||
				  (rows[i].alt != 0 && errno == rows[i].alt),
			  "%s: %s", rows[i].what, strerror(errno));
		cr_assert_eq(hugepage_count(), before, "%s", rows[i].what);
	}
}

/* libsodium's own mmap calls reach the interposer, and Argon2id still
 * gives the right answers. The smallest memory cost that goes through it
 * (4 MiB, not crypto_pwhash_MEMLIMIT_MIN) keeps this fast. */
Test(hugepage, password_verify_through_the_interposer)
{
	char hash[PASSWORD_HASH_SIZE];
	unsigned long before;
	int on = hugepage_enable();

	cr_assert_eq(password_init(), 0);
	before = hugepage_count();
	cr_assert_eq(password_hash("s3cret", 6, crypto_pwhash_OPSLIMIT_MIN,
				   4 * MIB, hash, sizeof(hash)),
		     0);
	cr_assert_eq(password_verify(hash, "s3cret", 6, NULL), 1);
	cr_assert_eq(password_verify(hash, "s3creT", 6, NULL), 0);
	cr_assert_eq(password_verify(hash, "", 0, NULL), 0);
	if (on)
		cr_assert_geq(hugepage_count(), before + 4,
			      "libsodium's mappings went through: %lu -> %lu",
			      before, hugepage_count());
	else
		cr_assert_eq(hugepage_count(), 0);
}
