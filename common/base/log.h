/* common/base/log.h: the one logging interface of every kantorpos program.
 *
 * Lines go to syslog (mail facility) by default, or to stderr when a program
 * runs in the foreground, or to a file (log_file in kantorpos.conf, through
 * log_use_file), which then takes the place of both. The format is the same
 * everywhere:
 *   "<level>: <message>"      syslog (it adds the time and "program[pid]")
 *   "<time> <program> <level>: <message>"         stderr
 *   "<time> <program>[<pid>] <level>: <message>"  log_file
 * with <time> as 2026-01-31T12:34:56.789 (and the UTC offset, +0100, in a
 * file). Session code writes "<16-hex session id> key=value ..." as its
 * message. log_warn/log_error append ": strerror(errno)"; the *x variants
 * do not.
 *
 * Every line is escaped (log_escape) before it is written, so a client's
 * bytes can neither start a new line nor reorder or hide text on screen.
 * Safe to call from any thread: one lock per line.
 */
#ifndef KANTORPOS_COMMON_LOG_H
#define KANTORPOS_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the program name and the default sink: to_stderr selects stderr
 * instead of syslog. Safe to call again (after a fork, or to change the
 * sink); a log file in use stays in use. */
void log_init(const char *progname, bool to_stderr);
/* Lines below this level are dropped; the default is LOG_LVL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info" or "debug"; -1 when unknown. */
int log_level_parse(const char *name);

/* Write lines to the file at path from now on (appended, created with mode
 * 0640 when missing, close-on-exec), or with path NULL go back to the
 * default sink of log_init. The same path again reopens it when the file
 * there is no longer the one open (logrotate renamed it); otherwise
 * nothing changes. A symbolic link, anything but a regular file, and a
 * file with other hard links are refused: the daemons open it as root.
 * Returns 0, or -1 with "log_file PATH: reason" in err and the sink as it
 * was (the old file stays open). */
int log_use_file(const char *path, char *err, size_t errlen);
/* Open path for appending by the rules of log_use_file: created (mode
 * 0640) when missing if create is set; refused as a symbolic link (ELOOP),
 * anything but a regular file (ENXIO; a directory gives EISDIR) or a file
 * with other hard links (EMLINK). Returns the descriptor, or -1 with errno
 * and "log_file PATH: reason" in err. Without create it writes nothing:
 * `kantorpos check` judges log_file with it. Blocking (one open). */
int log_open_file(const char *path, bool create, char *err, size_t errlen);
/* Reopen the log file in use, as log_use_file with its own path (SIGUSR1
 * after a rotation). 0 when there is none. Returns 0 or -1 as above. */
int log_reopen(char *err, size_t errlen);
/* log_reopen, then one line on how it went, prefixed with what (e.g.
 * "SIGUSR1"): the file opened, the error and that the old file stays in
 * use, or that there is no log file. */
void log_reopen_report(const char *what);
/* The log file in use, or NULL. */
const char *log_file_path(void);
/* Whether lines go to stderr (no log file, and log_init chose stderr). */
bool log_on_stderr(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Log every line of a multi-line text (an error list) as a line of its
 * own, between prefix and suffix (both may be ""); empty lines are
 * skipped. */
void log_lines(enum log_level level, const char *prefix, const char *text,
	       const char *suffix);

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_errorx(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
/* As log_warnx/log_errorx, with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
