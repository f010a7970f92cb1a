/* common/base/sdnotify.h: telling the service manager how a daemon is doing
 * (systemd's Type=notify), without libsystemd: one datagram of
 * "KEY=VALUE" lines to the AF_UNIX socket that $NOTIFY_SOCKET names, as
 * sd_notify(3) describes. The name is a file system path ("/run/...") or,
 * with a leading '@', an abstract socket.
 *
 * Without NOTIFY_SOCKET (started by hand, by a test, by another init)
 * every call is a no-op. A call never blocks: the socket is non-blocking
 * and a manager that does not read drops the message. The first failure
 * is logged as a warning, later ones are not, so a bad NOTIFY_SOCKET costs
 * one log line. Call from one thread (the loop thread). */
#ifndef KANTORPOS_COMMON_SDNOTIFY_H
#define KANTORPOS_COMMON_SDNOTIFY_H

/* Send state ("READY=1", several assignments separated by newlines).
 * Returns 1 when sent, 0 without NOTIFY_SOCKET, -1 on failure (errno set:
 * EINVAL for a name that is neither "/path" nor "@name" or too long for
 * an AF_UNIX address, EAGAIN when the receiver's queue is full). */
int sdnotify_send(const char *state);

/* READY=1: start-up or a reload has finished and the daemon serves.
 * status, when not NULL, goes along as STATUS= (one line of text for
 * "systemctl status"). Returns as sdnotify_send. */
int sdnotify_ready(const char *status);

/* RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now, in microseconds,
 * which systemd 253 and later require): a reload begins; READY=1 must
 * follow when it has ended, whatever its outcome. */
int sdnotify_reloading(void);

/* STOPPING=1: a graceful stop begins. */
int sdnotify_stopping(void);

#endif
