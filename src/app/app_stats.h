/*
 * app/app_stats — process statistics for operators and benchmarks: the
 * monitor command `stats` (an imsd extension of manual §7, with the names of
 * the §6 remote API message `stats`: instance_id, cpu, counters), and the
 * heap housekeeping that gives freed memory back to the system.
 *
 * `stats` prints one `name: value` line per figure: uptime, CPU and SIP
 * counters over the interval since the previous `stats` (or since start),
 * memory (VmRSS and the allocator's in-use / free / arena bytes), live SIP
 * transactions and the registrar's counts. `stats trim` runs malloc_trim(0)
 * and shows what it gave back. The format is documented in docs/monitor.md.
 *
 * Housekeeping: glibc keeps freed heap memory, so after a load burst (a
 * million completed SIP transactions waiting for Timer J) RSS stays at the
 * peak. Every APP_STATS_TRIM_PERIOD_MS a loop timer checks whether a burst
 * is over (live SIP transactions down to a quarter of their peak, the
 * stack's high-water mark, so that a burst between two looks counts; the
 * peak at least APP_STATS_BURST_MIN); only then does it read
 * mallinfo2() (which walks the free lists) and call malloc_trim(0) when the
 * free heap is above trim_min_free and more than half of the arena.
 *
 * Ownership: struct app_stats borrows the stack and the registrar, which
 * must outlive it. Everything runs on the loop thread.
 */
#ifndef APP_APP_STATS_H
#define APP_APP_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registrar/registrar.h"
#include "sip/sip_stack.h"

struct mbuf;
struct app_stats;

#define APP_STATS_TRIM_PERIOD_MS 10000u
#define APP_STATS_TRIM_MIN_FREE ((size_t)64 << 20)
#define APP_STATS_BURST_MIN 10000u

struct app_stats_prm {
	struct sip_stack *sip;	     /* borrowed; NULL: no SIP lines (zeros) */
	const struct registrar *reg; /* borrowed; NULL: no registrar lines */
	uint32_t trim_period_ms;     /* 0 = APP_STATS_TRIM_PERIOD_MS */
	size_t trim_min_free;	     /* bytes, 0 = APP_STATS_TRIM_MIN_FREE */
};

/* Memory as the process and its allocator see it, in bytes. */
struct app_stats_mem {
	size_t rss;	    /* VmRSS */
	size_t heap_in_use; /* allocated: small chunks + mmapped blocks */
	size_t heap_free;   /* free bytes the allocator keeps */
	size_t heap_arena;  /* heap obtained with brk/mmap for small chunks */
};

/* Starts the housekeeping timer and registers the monitor command `stats`
 * (once per process; a later app_stats takes it over). */
int app_stats_alloc(struct app_stats **sp, const struct app_stats_prm *prm);
void app_stats_free(struct app_stats *s);

/* The `stats` output; starts a new interval for cpu and counters. */
int app_stats_print(struct app_stats *s, struct mbuf *out);
/* The `stats trim` output: malloc_trim(0) and its effect. */
int app_stats_trim_print(struct app_stats *s, struct mbuf *out);

/* Fills m now; fields it cannot read are 0. */
void app_stats_mem_get(struct app_stats_mem *m);
/* The housekeeping rule: free heap > min_free and > half the arena. */
bool app_stats_trim_due(const struct app_stats_mem *m, size_t min_free);
/* The burst rule: records in *peak the most live since the last look
 * (high) and live now; true (and *peak = live) when live is at most a
 * quarter of a peak of at least APP_STATS_BURST_MIN. */
bool app_stats_burst_over(size_t *peak, size_t high, size_t live);
/* Runs the housekeeping check once (the timer calls it after a burst); true
 * if it trimmed. */
bool app_stats_housekeep(struct app_stats *s);

#endif
