/* smtpd/reply.h: SMTP reply text (RFC 5321 §4.2) with RFC 2034 enhanced
 * status codes, single- and multi-line. Pure formatting: the session sends
 * what these functions build. */
#ifndef KANTORPOS_SMTPD_REPLY_H
#define KANTORPOS_SMTPD_REPLY_H

#include <stdarg.h>
#include <stddef.h>

/* RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with CRLF. */
#define REPLY_LINE_MAX 512

/* Format one reply line "CODE ENH TEXT\r\n" (or "CODE-ENH TEXT\r\n" when
 * more is non-zero) into buf. enh may be NULL (greeting, EHLO lines) and
 * is then left out. The text is cut so that the line fits REPLY_LINE_MAX;
 * CR and LF in the text become spaces so a reply can never carry a second
 * line. Returns the length written (buf always gets the CRLF), or 0 when
 * size is below 16 or code is not 200-599. */
size_t reply_vformat(char *buf, size_t size, int code, const char *enh,
		     int more, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));
size_t reply_format(char *buf, size_t size, int code, const char *enh,
		    int more, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Is enh a well-formed enhanced code whose class matches code (RFC 3463
 * §2: class.subject.detail, class 2, 4 or 5 equal to code's first digit)? */
int reply_enh_ok(int code, const char *enh);

#endif
