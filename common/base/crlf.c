/* common/base/crlf.c: bare LF to CRLF, on bytes and on a descriptor read
 * to its end. */
#include "autoconf.h"

#include "common/base/crlf.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Bytes read at a time; the converted piece is at most twice that. */
#define CRLF_CHUNK 65536

size_t crlf_convert(bool *prev_cr, const char *in, size_t n, char *out)
{
	bool cr = *prev_cr;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && !cr)
			out[o++] = '\r';
		out[o++] = in[i];
		cr = in[i] == '\r';
	}
	*prev_cr = cr;
	return o;
}

int crlf_copy_fd(int fd, crlf_sink *sink, void *arg)
{
	char *in = malloc(3 * CRLF_CHUNK), *out = in + CRLF_CHUNK;
	bool prev_cr = false;
	int rc = 0, saved;
	ssize_t n;

	if (in == NULL)
		return -1;
	while (rc == 0 && (n = read(fd, in, CRLF_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -1;
			break;
		}
		rc = sink(arg, out, crlf_convert(&prev_cr, in, (size_t)n, out));
	}
	saved = errno;
	free(in);
	errno = saved;
	return rc;
}
