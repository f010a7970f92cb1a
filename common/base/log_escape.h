/* common/base/log_escape.h: what a log line may show of bytes a client
 * sent, as pure functions (log.c escapes every line with them; the login
 * line escapes a user name with log_escape_token). */
#ifndef KANTORPOS_COMMON_BASE_LOG_ESCAPE_H
#define KANTORPOS_COMMON_BASE_LOG_ESCAPE_H

#include <stddef.h>

/* Escape in for a log line into out (outlen bytes, always terminated):
 * control bytes (C0 and DEL) and bytes that are not valid UTF-8 become
 * "\xNN" (lower-case hex); the C1 controls (U+0080-U+009F) and the
 * invisible and bidirectional format characters (U+061C, U+180E,
 * U+200B-U+200F, U+2028-U+202E, U+2060-U+2064, U+2066-U+206F, U+FEFF,
 * U+FFF9-U+FFFB, U+E0000-U+E007F) become "\u202E" (upper-case hex, four
 * digits, or "\U000E0001" with eight beyond U+FFFF). Everything else,
 * UTF-8 letters included, is copied as it is; a backslash too, so an
 * escape in a line may also be text the client sent. An escape or a
 * character that does not fit whole is left out, and so is the rest.
 * Pure. Returns the length written. */
size_t log_escape(char *out, size_t outlen, const char *in);

/* Escape a client's value (a login name) as one token of a key=value
 * line: printable ASCII other than space, '"' and '\' is copied, every
 * other byte becomes "\xNN"; at most max bytes of output, ending in "..."
 * when in was longer. out has room for max + 1. Pure. Returns out. */
const char *log_escape_token(char *out, size_t max, const char *in);

#endif
