/* common/log.h: the one logging interface of every kantorpos program.
 *
 * Lines go to syslog (mail facility) by default, or to stderr when a program
 * runs in the foreground. The format is the same everywhere:
 *   "<level>: <message>"             (stderr adds a timestamp and the program)
 * Session code writes "<16-hex session id> key=value ..." as its message.
 * log_warn/log_fatal append ": strerror(errno)"; the *x variants do not.
 */
#ifndef KANTORPOS_COMMON_LOG_H
#define KANTORPOS_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the program name and the sink: to_stderr selects stderr instead of
 * syslog. Safe to call again (after a fork, or to change the sink). */
void log_init(const char *progname, bool to_stderr);
/* Lines below this level are dropped; the default is LOG_LVL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info" or "debug"; -1 when unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_errorx(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
/* As log_warnx/log_errorx, with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at error level and exit(1); the x variant without errno text. */
void log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
