/* common/base/hugepage.h: Argon2id's working memory in transparent huge pages.
 *
 * Why: libsodium allocates the Argon2id working memory (64 MiB at the
 * default cost) with mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE) for
 * every hash and unmaps it afterwards. When transparent huge pages are in
 * "madvise" mode (a common default) that populates 16384 pages of 4 KiB
 * per verification, which costs about half of its time. Asked for in huge
 * pages the same memory takes 32 page faults instead.
 *
 * How: the module defines mmap() itself. A program that links it exports
 * that definition (libsodium.so refers to mmap, so the linker puts the
 * executable's mmap in the dynamic symbol table), and the dynamic linker
 * binds libsodium's calls to it, as it does every shared library's.
 *
 * Which mappings change: only once hugepage_enable() was called, and only
 * mappings that are anonymous (MAP_ANONYMOUS), private (MAP_PRIVATE, not
 * MAP_SHARED or MAP_SHARED_VALIDATE), not MAP_HUGETLB, ask for MAP_POPULATE
 * and are at least HUGEPAGE_MIN_LEN long. Such a mapping is made without
 * MAP_POPULATE, marked MADV_HUGEPAGE, then populated with
 * MADV_POPULATE_WRITE (MADV_POPULATE_READ if it is not writable); the
 * result of both madvise calls is ignored, as MAP_POPULATE's own failure
 * is (the pages then fault in on first touch), and errno is left as it was
 * before the call. Every other call goes to the kernel unchanged: the
 * same arguments, the address on success, MAP_FAILED with errno on error,
 * as libc's mmap.
 *
 * Where it is compiled out (hugepage_enable returns 0 and mmap stays
 * libc's): builds with AddressSanitizer, ThreadSanitizer or
 * MemorySanitizer (they intercept mmap themselves), systems other than
 * Linux, and platforms where the raw mmap system call is not the plain
 * six-argument one on 64-bit addresses.
 */
#ifndef KANTORPOS_COMMON_HUGEPAGE_H
#define KANTORPOS_COMMON_HUGEPAGE_H

/* The smallest mapping asked for in huge pages: one x86-64 huge page. */
#define HUGEPAGE_MIN_LEN ((unsigned long)2 << 20)

/* Start asking for huge pages (idempotent, thread-safe, never blocks).
 * Returns 1 if mappings are now requested in huge pages, 0 if this build
 * does not interpose mmap (see above). password_init calls it, which links
 * this module into every program that checks passwords. */
int hugepage_enable(void);

/* How many mappings were requested in huge pages since the start of the
 * process (successful ones only). Never blocks. */
unsigned long hugepage_count(void);

#endif
