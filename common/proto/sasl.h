/* common/proto/sasl.h: the SASL pieces both daemons share: strict base64 (RFC
 * 4648 section 4 alphabet with padding, as RFC 4954 and RFC 5034 require),
 * client responses (with "*" cancel and "=" empty), the PLAIN message
 * (RFC 4616) and the LOGIN mechanism's steps.
 *
 * Pure: no I/O, no allocation, no globals; safe on hostile input. Buffers
 * that held decoded credentials are the caller's to wipe (sodium_memzero).
 *
 * Suggested replies per result:
 *   SASL_CANCEL     SMTP 501 5.7.0 Authentication cancelled; POP3 -ERR ...
 *   SASL_BAD_BASE64 SMTP 501 5.5.2 Invalid base64 data;     POP3 -ERR ...
 *   SASL_MALFORMED  SMTP 501 5.5.2 ...;                    POP3 -ERR [AUTH] ...
 *   SASL_AUTHZID    SMTP 535 5.7.8 ...;                    POP3 -ERR [AUTH] ...
 *   SASL_TOO_LONG   SMTP 500 5.5.6 ...;                    POP3 -ERR ...
 */
#ifndef KANTORPOS_COMMON_SASL_H
#define KANTORPOS_COMMON_SASL_H

#include <stddef.h>

/* The LOGIN mechanism's challenges: base64 of "Username:" and
 * "Password:" (draft-murchison-sasl-login). */
#define SASL_LOGIN_USER_PROMPT "VXNlcm5hbWU6"
#define SASL_LOGIN_PASS_PROMPT "UGFzc3dvcmQ6"

/* Bytes that always hold the decoding of len base64 characters. */
#define SASL_DECODED_MAX(len) (((len) / 4 + 1) * 3)
/* Bytes (NUL included) that hold the base64 encoding of len bytes. */
#define SASL_ENCODED_SIZE(len) ((((len) + 2) / 3) * 4 + 1)

enum sasl_result {
	SASL_OK = 0,
	SASL_CANCEL,     /* the client answered "*" (RFC 4954 section 4) */
	SASL_BAD_BASE64, /* a character outside the alphabet, bad padding,
			  * spaces, or a length that is not a multiple of 4 */
	SASL_MALFORMED,  /* decoded, but not a valid message: PLAIN without
			  * its two NULs or with a third, an empty user or
			  * password, a NUL in a LOGIN step */
	SASL_AUTHZID,    /* PLAIN asked to act as another user: refused */
	SASL_TOO_LONG,   /* the output buffer is too small */
};

/* Short English text for a result ("invalid base64", ...), static. */
const char *sasl_strerror(enum sasl_result r);

/* Decode len base64 characters strictly into out (size bytes). Empty input
 * decodes to nothing. Returns SASL_OK with the byte count in *len_r,
 * SASL_BAD_BASE64 or SASL_TOO_LONG. out is NUL-terminated when there is
 * room (the decoded bytes may contain NULs themselves). */
enum sasl_result sasl_b64_decode(const char *in, size_t len, void *out,
				 size_t size, size_t *len_r);

/* Encode len bytes into out (size >= SASL_ENCODED_SIZE(len)), padded and
 * NUL-terminated. Returns the length without the NUL, or 0 with out set
 * to "" when out is too small (or len is 0). */
size_t sasl_b64_encode(const void *in, size_t len, char *out, size_t size);

/* Decode one client response line (terminator removed) or an initial
 * response: "*" is SASL_CANCEL, "=" the empty response (len_r 0),
 * anything else strict base64 as sasl_b64_decode. */
enum sasl_result sasl_response_decode(const char *line, size_t len,
				      void *out, size_t size, size_t *len_r);

/* A PLAIN message split in place (pointers into the caller's buffer). */
struct sasl_plain {
	const char *authzid; /* "" when not given */
	const char *user;    /* the authentication identity, NUL-terminated */
	const char *pass;    /* NUL-terminated (no NUL inside) */
	size_t pass_len;
};

/* Split a decoded PLAIN message "authzid NUL authcid NUL passwd" (RFC 4616
 * section 2). msg must have room for one more byte after len (as
 * sasl_b64_decode leaves: size > len), which becomes the password's NUL.
 * Returns SASL_OK and fills *p_r, SASL_MALFORMED (fewer or more than two
 * NULs, empty authcid or password) or SASL_AUTHZID (an authzid that is
 * not exactly the authcid: kantorpos has no proxy authorisation). */
enum sasl_result sasl_plain_parse(char *msg, size_t len,
				  struct sasl_plain *p_r);

/* Decode one LOGIN step (user name or password) from a response line: as
 * sasl_response_decode, then SASL_MALFORMED for an empty value or a NUL
 * byte. out is NUL-terminated on success. */
enum sasl_result sasl_login_decode(const char *line, size_t len, char *out,
				   size_t size, size_t *len_r);

#endif
