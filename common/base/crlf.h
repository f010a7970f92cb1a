/* common/base/crlf.h: a message handed over by a local program (standard
 * input of `kantorpos queue add` and `kantorpos deliver`) brought to the
 * CRLF line ends that SMTP and the store use: every LF that no CR precedes
 * becomes CRLF; CRLF and a lone CR stay as they are. */
#ifndef KANTORPOS_COMMON_CRLF_H
#define KANTORPOS_COMMON_CRLF_H

#include <stdbool.h>
#include <stddef.h>

/* Convert n bytes of in into out (room for 2 * n bytes); *prev_cr says
 * whether the byte before in was a CR (false at the start of a message)
 * and is updated, so a message may come in pieces of any size. Returns
 * the number of bytes written to out. */
size_t crlf_convert(bool *prev_cr, const char *in, size_t n, char *out);

/* Where crlf_copy_fd puts the converted bytes: 0 to go on, any other value
 * to stop the copy with that value. */
typedef int crlf_sink(void *arg, const char *buf, size_t len);

/* Read fd to its end (retrying EINTR) and pass everything, converted, to
 * sink in pieces of at most 128 KiB. Blocking. Returns 0 at the end of
 * the input, the sink's value as soon as it returns non-zero, or -1 with
 * errno when read(2) or memory fails; a sink that returns positive values
 * keeps its failures apart from those. */
int crlf_copy_fd(int fd, crlf_sink *sink, void *arg);

#endif
