/* store/mdname.h: Maildir file names — building unique base names and reading
 * the fields kantorpos cares about (delivery time, ,S= and ,W= sizes, the
 * stable base used as POP3 UIDL). Pure: no I/O, no globals.
 *
 * A kantorpos name in new/ looks like
 *   <sec>.M<usec>P<pid>Q<counter>.<host>,S=<bytes>,W=<bytes>
 * and a Maildir reader may append ":2,<flags>" when it moves it into cur/. */
#ifndef KANTORPOS_STORE_MDNAME_H
#define KANTORPOS_STORE_MDNAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
#define MDNAME_UIDL_MAX 70

/* Write "<sec>.M<usec>P<pid>Q<counter>.<host>" into buf (NUL-terminated).
 * usec is zero-padded to six digits so names of one second sort in time
 * order. In host, '/', ':' and ',' become "\057", "\072" and "\054" (the
 * usual Maildir escapes) and bytes outside 0x21..0x7E become '_', so the
 * result is one safe path component. Returns 0, or -1 with ENAMETOOLONG when
 * buf is too small. */
int mdname_make(char *buf, size_t size, long long sec, long usec, pid_t pid,
		unsigned long counter, const char *host);

/* Length of the stable part of a name: everything before the first ':'
 * (the flags suffix changes when a reader marks the message). */
size_t mdname_base_len(const char *name);

/* Find ",<key>=<digits>" in the base part of name (key is 'S' or 'W') and
 * store the number in *val_r. Returns 1 found, 0 absent or malformed. */
int mdname_field(const char *name, char key, uint64_t *val_r);

/* The delivery time: the leading decimal seconds of name, 0 when the name
 * does not start with digits. */
long long mdname_time(const char *name);

/* The POP3 unique-id of a message: its base name when that is at most
 * MDNAME_UIDL_MAX characters in 0x21..0x7E, otherwise 32 hex digits of a
 * BLAKE2b hash of the base name (stable, practically collision-free).
 * out must hold MDNAME_UIDL_MAX + 1 bytes. Returns 0, -1 if the hash
 * library cannot be initialised. */
int mdname_uidl(const char *name, char out[MDNAME_UIDL_MAX + 1]);

#endif
