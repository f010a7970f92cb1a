/* pipeline/stage_spf.h: what the SPF stage (pipeline/stage_spf.c) found
 * for a message, for the stages after it (DMARC reads the result and
 * the domain). */
#ifndef KANTORPOS_PIPELINE_STAGE_SPF_H
#define KANTORPOS_PIPELINE_STAGE_SPF_H

#include "pipeline/spf_verdict.h"

struct pipe_tx;

/* The verdict of tx's SPF check once its MAIL step is done, or NULL when
 * no check was made (not the mx listener, an authenticated or trusted
 * client, no resolver). */
const struct spf_verdict *stage_spf_verdict(const struct pipe_tx *tx);

#endif
