/* common/base/log.c: the logging sinks (syslog, stderr, a log file) and the one
 * line format; the escaping is in log_escape.c. */
#include "autoconf.h"

#include "common/base/log.h"
#include "common/base/log_escape.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Longest message before escaping; escaping may make it up to 4 times
 * longer (a control byte becomes \xNN). */
#define LOG_MSG_MAX 2048
#define LOG_LINE_MAX (LOG_MSG_MAX * 4 + 128)
/* Mode of a log file the program creates (before its umask). */
#define LOG_FILE_MODE 0640

static const char *log_progname = "kantorpos";
static bool log_to_stderr = true; /* the default sink of log_init */
static int log_fd = -1;           /* log_file, when one is in use */
static char *log_path;
static enum log_level log_threshold = LOG_LVL_INFO;
/* Worker threads log too: one line must never interleave with another,
 * and a reopen swaps the descriptor under the same lock. */
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
	if (!to_stderr && log_fd < 0)
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

/* ---- the log file ---- */

/* O_NOFOLLOW and the checks after the open keep a program started as
 * root from appending to a file a link points at; O_NONBLOCK keeps a FIFO
 * from blocking the open (it is refused; a regular file ignores it). */
int log_open_file(const char *path, bool create, char *err, size_t errlen)
{
	struct stat st;
	const char *why = NULL;
	int fd, saved;

	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY |
			O_NOFOLLOW | O_NONBLOCK | (create ? O_CREAT : 0),
		  LOG_FILE_MODE);
	if (fd < 0) {
		saved = errno;
		/* ENXIO: a FIFO nobody reads, a socket, a missing device. */
		snprintf(err, errlen, "log_file %s: %s", path,
			 saved == ELOOP	  ? "is a symbolic link; refusing it"
			 : saved == ENXIO ? "not a regular file"
					  : strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		saved = errno;
		why = strerror(saved);
	} else if (!S_ISREG(st.st_mode)) {
		saved = ENXIO;
		why = "not a regular file";
	} else if (st.st_nlink > 1) {
		saved = EMLINK;
		why = "has other hard links; refusing it";
	}
	if (why != NULL) {
		snprintf(err, errlen, "log_file %s: %s", path, why);
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* The file at path is the one already open (no rotation since). */
static bool is_open_file(const char *path)
{
	struct stat a, b;

	return log_fd >= 0 && stat(path, &a) == 0 && fstat(log_fd, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int log_use_file(const char *path, char *err, size_t errlen)
{
	char *copy = NULL;
	int fd = -1, old;

	if (path != NULL) {
		if (log_path != NULL && strcmp(path, log_path) == 0 &&
		    is_open_file(path))
			return 0;
		if ((copy = strdup(path)) == NULL) {
			snprintf(err, errlen, "log_file %s: %s", path,
				 strerror(errno));
			return -1;
		}
		if ((fd = log_open_file(path, true, err, errlen)) < 0) {
			free(copy);
			return -1;
		}
	}
	pthread_mutex_lock(&log_lock);
	old = log_fd;
	if (old < 0 && fd >= 0 && !log_to_stderr)
		closelog();
	log_fd = fd;
	free(log_path);
	log_path = copy;
	if (old >= 0 && fd < 0 && !log_to_stderr)
		openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
	pthread_mutex_unlock(&log_lock);
	if (old >= 0)
		close(old);
	return 0;
}

int log_reopen(char *err, size_t errlen)
{
	char *path;
	int rc;

	if (log_path == NULL)
		return 0;
	/* log_use_file replaces log_path: work on a copy. */
	if ((path = strdup(log_path)) == NULL) {
		snprintf(err, errlen, "log_file %s: %s", log_path,
			 strerror(errno));
		return -1;
	}
	rc = log_use_file(path, err, errlen);
	free(path);
	return rc;
}

void log_reopen_report(const char *what)
{
	char msg[PATH_MAX + 128];

	if (log_path == NULL)
		log_info("%s: no log_file to reopen", what);
	else if (log_reopen(msg, sizeof msg) < 0)
		log_errorx("%s: %s; keeping the old log file", what, msg);
	else
		log_info("%s: log file %s open", what, log_path);
}

const char *log_file_path(void) { return log_path; }

bool log_on_stderr(void) { return log_fd < 0 && log_to_stderr; }

/* ---- writing a line ---- */

/* "2026-01-31T12:34:56.789", with the UTC offset when zone is set. */
static void timestamp(char *buf, size_t len, bool zone)
{
	struct timespec ts;
	struct tm tm;
	char date[32], off[8] = "";

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	if (zone)
		strftime(off, sizeof off, "%z", &tm);
	snprintf(buf, len, "%s.%03ld%s", date, ts.tv_nsec / 1000000, off);
}

/* A line to the file is one write(2) with O_APPEND: lines of several
 * processes sharing the file never mix, and, like syslog's send to a
 * local socket, it does not keep the event loop waiting for long. */
static void write_file(enum log_level level, const char *line)
{
	char stamp[48], buf[LOG_LINE_MAX + 128];
	ssize_t w;
	int n;

	timestamp(stamp, sizeof stamp, true);
	n = snprintf(buf, sizeof buf, "%s %s[%ld] %s: %s\n", stamp,
		     log_progname, (long)getpid(), level_names[level], line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf) { /* a long program name: keep the LF */
		n = (int)sizeof buf - 1;
		buf[n - 1] = '\n';
	}
	/* A full disk loses the line; there is no better place for it. */
	w = write(log_fd, buf, (size_t)n);
	(void)w;
}

static void log_emit(enum log_level level, const char *errtext,
		     const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void log_emit(enum log_level level, const char *errtext,
		     const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX], line[LOG_LINE_MAX];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		return;
	if (errtext != NULL && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", errtext);
	/* Hostile input must not forge lines or hide text on screen. */
	log_escape(line, sizeof line, msg);

	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0) {
		write_file(level, line);
	} else if (log_to_stderr) {
		char stamp[48];

		timestamp(stamp, sizeof stamp, false);
		fprintf(stderr, "%s %s %s: %s\n", stamp, log_progname,
			level_names[level], line);
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

void log_lines(enum log_level level, const char *prefix, const char *text,
	       const char *suffix)
{
	const char *nl;

	for (; *text != '\0'; text = *nl == '\n' ? nl + 1 : nl) {
		nl = strchr(text, '\n');
		if (nl == NULL)
			nl = text + strlen(text);
		if (nl > text)
			log_msg(level, "%s%.*s%s", prefix, (int)(nl - text),
				text, suffix);
	}
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
