/* tests/helpers/queuefix.c: the queue-delivery fixture of
 * tests/helpers/queuefix.h. */
#include "autoconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config/config_load.h"
#include "tests/helpers/queuefix.h"
#include "tests/helpers/testutil.h"

void qf_setup(struct qf_fixture *f)
{
	char *text, *err = NULL;

	f->dir = tu_tmpdir();
	cr_assert(asprintf(&text,
			   "hostname mx.example.test\ndata_dir %s\nuser_db %s/users\n"
			   "local_domain example.test\n"
			   "etrn_domain backup.test deliver_to 127.0.0.1:1 lifetime 1d\n"
			   "queue_retry_min 1m\nqueue_retry_max 10m\n",
			   f->dir, f->dir) > 0);
	f->cfg = config_parse("t.conf", "/", text, strlen(text), &err);
	cr_assert_not_null(f->cfg, "%s", err);
	free(text);
	cr_assert_eq(queue_open(f->dir, "h", &f->q), 0);
}

void qf_teardown(struct qf_fixture *f)
{
	queue_free(f->q);
	config_free(f->cfg);
	tu_rmrf(f->dir);
	free(f->dir);
}
