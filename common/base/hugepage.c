/* common/base/hugepage.c: the mmap() interposer that asks for transparent huge
 * pages for libsodium's Argon2id working memory (see hugepage.h). */
#include "autoconf.h"

/* With 64-bit file offsets glibc's header renames mmap to mmap64; this
 * file must define the name libsodium calls. off_t is 64 bits on every
 * platform the interposer is compiled for, so nothing else changes. */
#undef _FILE_OFFSET_BITS

#include "common/base/hugepage.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

/* Sanitizers intercept mmap themselves: leave it to them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HUGEPAGE_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer) || __has_feature(hwaddress_sanitizer)
#define HUGEPAGE_SANITIZER 1
#endif
#endif

/* The raw system call must take the six arguments as they are (s390x
 * takes a pointer to a block instead) with 64-bit addresses and offsets
 * (32-bit ABIs use mmap2 and page units). */
#if defined(__linux__) && defined(SYS_mmap) && UINTPTR_MAX == UINT64_MAX && \
	!defined(__s390__) && defined(MAP_POPULATE) &&                   \
	defined(MADV_HUGEPAGE) && !defined(HUGEPAGE_SANITIZER)
#define HUGEPAGE_INTERPOSE 1
#endif

#ifdef HUGEPAGE_INTERPOSE

static atomic_int hugepage_on;
static atomic_ulong hugepage_mapped;

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off);
static int wants_huge(size_t len, int flags);
static void *map_huge(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off);

int hugepage_enable(void)
{
	atomic_store(&hugepage_on, 1);
	return 1;
}

unsigned long hugepage_count(void)
{
	return atomic_load(&hugepage_mapped);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (atomic_load_explicit(&hugepage_on, memory_order_relaxed) &&
	    wants_huge(len, flags))
		return map_huge(addr, len, prot, flags, fd, off);
	return sys_mmap(addr, len, prot, flags, fd, off);
}

/* The kernel's mmap, as libc's wrapper calls it on these platforms. The
 * kernel returns -4095..-1 for -errno; syscall() turns that into -1 with
 * errno set, which is MAP_FAILED. Every argument is widened to long
 * because syscall() reads them as longs from its variadic list. */
static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	long rc = syscall(SYS_mmap, (long)(uintptr_t)addr, (long)len,
			  (long)prot, (long)flags, (long)fd, (long)off);

	return rc == -1 ? MAP_FAILED : (void *)(uintptr_t)rc;
}

/* Anonymous, private, populated, large, and not explicit hugetlbfs. */
static int wants_huge(size_t len, int flags)
{
	if ((flags & MAP_ANONYMOUS) == 0 || (flags & MAP_POPULATE) == 0)
		return 0;
	/* MAP_SHARED_VALIDATE is MAP_SHARED | MAP_PRIVATE: excluded too. */
	if ((flags & (MAP_SHARED | MAP_PRIVATE)) != MAP_PRIVATE)
		return 0;
#ifdef MAP_HUGETLB
	if (flags & MAP_HUGETLB)
		return 0;
#endif
	return len >= HUGEPAGE_MIN_LEN;
}

/* Map without MAP_POPULATE, ask for huge pages, then populate. The
 * madvise results are ignored: MAP_POPULATE does not report a failure to
 * populate either, and untouched pages simply fault in later. */
static void *map_huge(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	void *p = sys_mmap(addr, len, prot, flags & ~MAP_POPULATE, fd, off);
	int saved = errno;

	if (p == MAP_FAILED)
		return p;
	(void)madvise(p, len, MADV_HUGEPAGE);
#if defined(MADV_POPULATE_WRITE) && defined(MADV_POPULATE_READ)
	if (prot & PROT_WRITE)
		(void)madvise(p, len, MADV_POPULATE_WRITE);
	else if (prot & PROT_READ)
		(void)madvise(p, len, MADV_POPULATE_READ);
#endif
	errno = saved;
	atomic_fetch_add_explicit(&hugepage_mapped, 1, memory_order_relaxed);
	return p;
}

#else /* !HUGEPAGE_INTERPOSE: mmap stays libc's */

int hugepage_enable(void)
{
	return 0;
}

unsigned long hugepage_count(void)
{
	return 0;
}

#endif
