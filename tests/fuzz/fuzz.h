/* tests/fuzz/fuzz.h: what every harness shares. A harness defines
 * LLVMFuzzerTestOneInput; libFuzzer drives it in the fuzzing build, and
 * tests/fuzz/replay.c drives it over the stored inputs in every build. */
#ifndef KANTORPOS_TESTS_FUZZ_FUZZ_H
#define KANTORPOS_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run the code under test on one input. Returns 0 (libFuzzer's contract);
 * a bug shows as a sanitizer report or an abort from FUZZ_CHECK. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the parser: a failure is a bug, so abort (libFuzzer and
 * the replay driver both report an abort as a crash). */
#define FUZZ_CHECK(cond)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",   \
				__FILE__, __LINE__, #cond);                \
			abort();                                           \
		}                                                          \
	} while (0)

/* A NUL-terminated heap copy of the input (callers free it), for parsers
 * that take C strings; NULL when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		for (size_t i = 0; i < size; i++)
			s[i] = (char)data[i];
		s[size] = '\0';
	}
	return s;
}

#endif
