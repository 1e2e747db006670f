/* auth/sqn — SQN = SEQ || IND handling (TS 33.102 Annex C). See sqn.h. */
#include <errno.h>
#include <string.h>

#include "auth/sqn.h"

uint64_t sqn_seq(uint64_t sqn)
{
	return (sqn & SQN_MAX) >> SQN_IND_BITS;
}

unsigned sqn_ind(uint64_t sqn)
{
	return (unsigned)(sqn & SQN_IND_MASK);
}

uint64_t sqn_make(uint64_t seq, unsigned ind)
{
	return ((seq & SQN_SEQ_MAX) << SQN_IND_BITS) | (ind & SQN_IND_MASK);
}

uint64_t sqn_from_bytes(const uint8_t b[6])
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = v << 8 | b[i];
	return v;
}

void sqn_to_bytes(uint64_t sqn, uint8_t b[6])
{
	for (int i = 5; i >= 0; i--) {
		b[i] = (uint8_t)sqn;
		sqn >>= 8;
	}
}

int sqn_he_next(uint64_t sqn_he, unsigned ind, uint64_t *next)
{
	uint64_t seq = sqn_seq(sqn_he);

	if (ind >= SQN_IND_COUNT || !next)
		return EINVAL;
	/* A wrapped SEQ would look stale to every USIM; refuse instead. */
	if (seq >= SQN_SEQ_MAX)
		return ERANGE;
	*next = sqn_make(seq + 1, ind);
	return 0;
}

void sqn_ms_init(struct sqn_ms *ms, uint64_t sqn_ms, uint64_t delta)
{
	uint64_t seq = sqn_seq(sqn_ms);

	for (unsigned i = 0; i < SQN_IND_COUNT; i++)
		ms->seq[i] = seq;
	ms->highest = sqn_ms & SQN_MAX;
	ms->delta = delta ? delta : SQN_DELTA_DEFAULT;
}

bool sqn_ms_is_fresh(const struct sqn_ms *ms, uint64_t sqn)
{
	uint64_t seq = sqn_seq(sqn);
	uint64_t top = sqn_seq(ms->highest);

	if (seq <= ms->seq[sqn_ind(sqn)])
		return false;
	/* Far ahead of anything seen: a wrap attack or a runaway HSS counter. */
	if (seq > top && seq - top > ms->delta)
		return false;
	return true;
}

void sqn_ms_accept(struct sqn_ms *ms, uint64_t sqn)
{
	ms->seq[sqn_ind(sqn)] = sqn_seq(sqn);
	if (sqn_seq(sqn) > sqn_seq(ms->highest))
		ms->highest = sqn & SQN_MAX;
}
