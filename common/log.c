/* common/log.c: the logging sink (syslog or stderr) and its one line format. */
#include "autoconf.h"

#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

static const char *log_progname = "kantorpos";
static bool log_to_stderr = true;
static enum log_level log_threshold = LOG_LVL_INFO;
/* Worker threads log too: one line must never interleave with another. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int level_syslog[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_init(const char *progname, bool to_stderr)
{
	if (progname != NULL)
		log_progname = progname;
	if (!log_to_stderr)
		closelog();
	log_to_stderr = to_stderr;
	if (!to_stderr)
		openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level level) { log_threshold = level; }

enum log_level log_get_level(void) { return log_threshold; }

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static void log_emit(enum log_level level, const char *errtext,
		     const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void log_emit(enum log_level level, const char *errtext,
		     const char *fmt, va_list ap)
{
	char line[2048];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n < 0)
		return;
	if (errtext != NULL && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", errtext);
	/* Control characters from hostile input would forge log lines. */
	for (char *p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';

	pthread_mutex_lock(&log_lock);
	if (log_to_stderr) {
		char stamp[32];
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s %s: %s\n", stamp,
			ts.tv_nsec / 1000000, log_progname, level_names[level],
			line);
	} else {
		syslog(level_syslog[level], "%s: %s", level_names[level], line);
	}
	pthread_mutex_unlock(&log_lock);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level > log_threshold)
		return;
	log_emit(level, NULL, fmt, ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

#define LOG_WITH_ERRNO(level)                                                  \
	do {                                                                   \
		int saved = errno;                                             \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		if ((level) <= log_threshold)                                  \
			log_emit((level), strerror(saved), fmt, ap);           \
		va_end(ap);                                                    \
		errno = saved;                                                 \
	} while (0)

void log_warn(const char *fmt, ...) { LOG_WITH_ERRNO(LOG_LVL_WARN); }

void log_error(const char *fmt, ...) { LOG_WITH_ERRNO(LOG_LVL_ERROR); }

void log_fatal(const char *fmt, ...)
{
	LOG_WITH_ERRNO(LOG_LVL_ERROR);
	exit(1);
}

void log_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
