/*
 * core/log — the history ring behind the remote API's log_get (manual §6.5).
 *
 * The last com_log_count entries, oldest at ring_head. Indexes grow by one
 * per entry and are never reused, so a reader keeps just the next idx it
 * wants; whatever overflow pushed out between that idx and the oldest held
 * entry is its discontinuity. log_ring_reset (log_reset) is deliberate, so
 * what it clears is not counted.
 */
#include "core/log_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t first_idx_locked(void)
{
	return log_g.ring_n ? log_g.ring[log_g.ring_head]->e.idx : log_g.next_idx;
}

static struct log_rec **slot(size_t i)
{
	return &log_g.ring[(log_g.ring_head + i) % log_g.ring_cap];
}

int log_ring_alloc_locked(size_t cap)
{
	struct log_rec **nr;
	size_t keep, drop;

	if (log_g.ring && cap == log_g.ring_cap)
		return 0;
	nr = calloc(cap, sizeof(*nr));
	if (!nr)
		return ENOMEM;
	keep = log_g.ring_n < cap ? log_g.ring_n : cap;
	drop = log_g.ring_n - keep;
	for (size_t i = 0; i < log_g.ring_n; i++) {
		if (i < drop)
			free(*slot(i));
		else
			nr[i - drop] = *slot(i);
	}
	free(log_g.ring);
	log_g.ring = nr;
	log_g.ring_cap = cap;
	log_g.ring_n = keep;
	log_g.ring_head = 0;
	return 0;
}

struct log_rec *log_ring_push_locked(struct log_rec *rec)
{
	struct log_rec *old = NULL;

	rec->e.idx = log_g.next_idx++;
	if (!log_g.ring && log_ring_alloc_locked(log_g.ring_cap))
		return rec; /* no history without memory; the line is written */
	if (log_g.ring_n == log_g.ring_cap) {
		old = log_g.ring[log_g.ring_head];
		log_g.ring[log_g.ring_head] = rec;
		log_g.ring_head = (log_g.ring_head + 1) % log_g.ring_cap;
	} else {
		*slot(log_g.ring_n++) = rec;
	}
	for (size_t i = 0; i < LOG_WATCH_MAX; i++) {
		if (log_g.watch[i].h)
			log_g.watch[i].h(log_g.next_idx, log_g.watch[i].arg);
	}
	return old;
}

static void ring_clear_locked(void)
{
	for (size_t i = 0; i < log_g.ring_n; i++)
		free(*slot(i));
	log_g.ring_n = 0;
	log_g.ring_head = 0;
}

void log_ring_free_locked(void)
{
	if (log_g.ring)
		ring_clear_locked();
	free(log_g.ring);
	log_g.ring = NULL;
}

void log_ring_reset(void)
{
	log_lock();
	if (log_g.ring)
		ring_clear_locked();
	log_g.reset_end = log_g.next_idx;
	log_unlock();
}

void log_ring_bounds(uint64_t *first, uint64_t *next)
{
	log_lock();
	if (first)
		*first = first_idx_locked();
	if (next)
		*next = log_g.next_idx;
	log_unlock();
}

bool log_ring_us(void)
{
	bool us;

	log_lock();
	us = log_g.ring_us;
	log_unlock();
	return us;
}

int log_ring_read(uint64_t from_idx, size_t max, log_ring_h *h, void *arg,
		  struct log_ring_pos *pos)
{
	uint64_t first, lost_from;
	size_t i;

	memset(pos, 0, sizeof(*pos));
	if (!h)
		return EINVAL;
	log_lock();
	first = first_idx_locked();
	if (from_idx > log_g.next_idx)
		from_idx = first; /* numbering restarted (log_close): from the oldest */
	lost_from = from_idx > log_g.reset_end ? from_idx : log_g.reset_end;
	pos->discontinuity = first > lost_from ? first - lost_from : 0;
	i = from_idx > first ? (size_t)(from_idx - first) : 0;
	for (; i < log_g.ring_n && pos->count < max; i++) {
		if (h(&(*slot(i))->e, arg))
			break;
		pos->count++;
	}
	pos->next = first + i;
	if (pos->next < from_idx)
		pos->next = from_idx;
	log_unlock();
	return 0;
}

int log_ring_watch_add(log_watch_h *h, void *arg)
{
	int rc = ENOSPC;

	if (!h)
		return EINVAL;
	log_lock();
	for (size_t i = 0; i < LOG_WATCH_MAX; i++) {
		if (!log_g.watch[i].h) {
			log_g.watch[i].h = h;
			log_g.watch[i].arg = arg;
			rc = 0;
			break;
		}
	}
	log_unlock();
	return rc;
}

void log_ring_watch_remove(log_watch_h *h, void *arg)
{
	log_lock();
	for (size_t i = 0; i < LOG_WATCH_MAX; i++) {
		if (log_g.watch[i].h == h && log_g.watch[i].arg == arg) {
			log_g.watch[i].h = NULL;
			log_g.watch[i].arg = NULL;
			break;
		}
	}
	log_unlock();
}
