/* common/config/config_load.h: reading kantorpos.conf into a struct config
 * (common/config/config.h), freeing it, and the line of each keyword for
 * messages about its value. */
#ifndef KANTORPOS_COMMON_CONFIG_LOAD_H
#define KANTORPOS_COMMON_CONFIG_LOAD_H

#include <stddef.h>

#include "common/config/config.h"

/* Parse a configuration held in memory: len bytes of text (NUL bytes are
 * reported as errors), named `name` in messages. Relative paths are joined
 * to base_dir; with base_dir NULL they are joined to the directory part of
 * name, and kept as written when name has none. hostname stays NULL when the
 * file does not set it. Pure: no I/O, no globals, safe on hostile input.
 * Returns a new struct config (free with config_free), or NULL with every
 * error line in *err_r (caller frees; NULL only when out of memory). */
struct config *config_parse(const char *name, const char *base_dir,
			    const char *text, size_t len, char **err_r);

/* Read and parse the file at path (blocking). Relative paths in it resolve
 * against the file's directory made absolute; a missing hostname becomes
 * gethostname(). Returns as config_parse; a file that cannot be read gives
 * one line "PATH: cannot read: <reason>". */
struct config *config_load(const char *path, char **err_r);

/* Free a configuration and everything it owns; NULL is fine. */
void config_free(struct config *cfg);

/* The line of cfg->file that sets keyword (the first one for keywords that
 * may repeat), or 0 when the file does not have it or there is no such
 * keyword. For messages about a value ("FILE:LINE: tls_cert ..."). */
unsigned config_line(const struct config *cfg, const char *keyword);

#endif
