/* tests/helpers/queuefix.h: the fixture of the queue-delivery suites
 * (test_outbound, test_dsn): a scratch data directory, a configuration with
 * the local domain example.test and the ETRN domain backup.test, and the
 * queue opened on that directory. Criterion assertions inside; for tests
 * only. */
#ifndef KANTORPOS_TESTS_QUEUEFIX_H
#define KANTORPOS_TESTS_QUEUEFIX_H

#include "common/config/config.h"
#include "store/queue.h"

struct qf_fixture {
	char *dir;          /* scratch directory: data_dir, DIR/users the db */
	struct config *cfg; /* hostname mx.example.test; backup.test is
			     * delivered to 127.0.0.1:1 with a lifetime of a
			     * day; retries back off from 1 to 10 minutes */
	struct queue *q;    /* the queue of DIR, host name "h" */
};

/* Make the directory, parse the configuration and open the queue; a
 * failure fails the test. */
void qf_setup(struct qf_fixture *f);

/* Close the queue, free the configuration, remove the directory. */
void qf_teardown(struct qf_fixture *f);

#endif
