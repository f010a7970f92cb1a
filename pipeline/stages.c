/* pipeline/stages.c: the stage list — which stages a message passes, in
 * order. Adding a stage is one file, pipeline/stage_NAME.c defining
 * `const struct stage stage_NAME` (pipeline/stage.h), plus one line here
 * (and its name in pipeline/pipeline.am). */
#include "autoconf.h"

#include <stddef.h>

#include "pipeline/stage.h"

#define PIPE_STAGES(X)                                                 \
	X(stage_size)     /* MAIL SIZE= and the content: the size limit */ \
	X(stage_sender)   /* MAIL: the sender rules (pipeline/sender.h) */ \
	X(stage_nullmx)   /* MAIL, RCPT: null MX domains (RFC 7505, DNS) */ \
	X(stage_spf)      /* MAIL on mx: SPF (RFC 7208, DNS), Received-SPF */ \
	X(stage_quota)    /* RCPT: the quota of local users (io pool) */   \
	X(stage_hops)     /* content: the hop limit (Received fields) */   \
	X(stage_dkimverify) /* mx: DKIM signatures checked (DNS, io pool) */ \
	X(stage_received) /* content start: the Received field */         \
	X(stage_submit)   /* submitted mail: Date, Message-ID, From: */ \
	X(stage_dkim)     /* last: signing submitted mail (DKIM) */

#define DECLARE(name) extern const struct stage name;
#define ENTRY(name) &name,

PIPE_STAGES(DECLARE)

static const struct stage *const stages[] = { PIPE_STAGES(ENTRY) NULL };

const struct stage *const *stage_list(void)
{
	return stages;
}
