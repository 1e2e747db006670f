/*
 * stats — process statistics as data, for operators and benchmarks, and the
 * heap housekeeping that gives freed memory back to the system.
 *
 * stats_sample() gathers every figure of the monitor's `stats` (an imsd
 * extension of manual §7, with the names of the §6 remote API message
 * `stats`: instance_id, cpu, counters) into struct stats_sample: uptime, CPU
 * and SIP / loop counters over the interval since the previous sample (or
 * since start), memory (VmRSS and the allocator's in-use / free / arena
 * bytes), live SIP transactions and the registrar's counts. The
 * allocator's figures are not read by a sample: mallinfo2() walks the free
 * lists and stalled the loop 150-636 ms with a million transactions live;
 * a sample gives those of the housekeeping timer's last look (every trim
 * period while no burst is going on, and when one is over), with their
 * age. Like the API
 * message, each sample starts a new interval, whoever takes it.
 * stats_trim_run() runs malloc_trim(0) and measures what it gave back. Nothing
 * here formats text: the monitor (monitor/monitor_stats.c) does, in the
 * format documented in docs/monitor.md, and the remote API will.
 *
 * Housekeeping: glibc keeps freed heap memory, so after a load burst (a
 * million completed SIP transactions waiting for Timer J) RSS stays at the
 * peak. Every STATS_TRIM_PERIOD_MS a loop timer checks whether a burst
 * is over (live SIP transactions down to a quarter of their peak, the
 * stack's high-water mark, so that a burst between two looks counts; the
 * peak at least STATS_BURST_MIN); only then does it read
 * mallinfo2() (which walks the free lists) and call malloc_trim(0) when the
 * free heap is above trim_min_free and more than half of the arena.
 *
 * Ownership: struct stats borrows the stack and the registrar, which
 * must outlive it. Everything runs on the loop thread.
 */
#ifndef STATS_STATS_H
#define STATS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "b2bua/b2bua.h"
#include "cscf/cscf.h"
#include "registrar/registrar.h"
#include "sip/sip_stack.h"
#include "smsc/smsc.h"

struct stats;

#define STATS_TRIM_PERIOD_MS 10000u
#define STATS_TRIM_MIN_FREE ((size_t)64 << 20)
#define STATS_BURST_MIN 10000u

struct stats_prm {
	struct sip_stack *sip;	     /* borrowed; NULL: SIP figures are 0 */
	const struct registrar *reg; /* borrowed; NULL: has_reg false */
	const struct cscf *cscf;     /* borrowed; NULL: has_cscf false */
	const struct b2bua *b2bua;   /* borrowed; NULL: its cfm counts 0 */
	const struct smsc *smsc;     /* borrowed; NULL: its cfm counts 0 */
	uint32_t trim_period_ms;     /* 0 = STATS_TRIM_PERIOD_MS */
	size_t trim_min_free;	     /* bytes, 0 = STATS_TRIM_MIN_FREE */
};

/* Memory as the process and its allocator see it, in bytes. */
struct stats_mem {
	size_t rss;	    /* VmRSS */
	size_t heap_in_use; /* allocated: small chunks + mmapped blocks */
	size_t heap_free;   /* free bytes the allocator keeps */
	size_t heap_arena;  /* heap obtained with brk/mmap for small chunks */
};

/* Every figure of one sample. Counters and CPU are over the interval. */
struct stats_sample {
	uint64_t instance_id; /* constant over the process's life (48 bits) */
	uint64_t uptime_ms;
	uint64_t interval_ms;		  /* since the previous sample (or start) */
	uint64_t cpu_user_us, cpu_sys_us; /* CPU time over the interval */
	struct sip_stack_stats sip;	  /* SIP counters over the interval */
	uint64_t loop_wakeups, loop_naps; /* over the interval */
	const char *allocator;		  /* "glibc", or "sanitizer" under ASan */
	struct stats_mem mem;		  /* rss now; the allocator's figures
					   * heap_age_ms ago (stats_heap_refresh) */
	uint64_t heap_age_ms;
	uint64_t heap_trims;		  /* housekeeping trims since start */
	uint64_t heap_trim_released;	  /* RSS bytes they gave back */
	size_t tsx_server, tsx_client;	  /* live SIP transactions */
	bool has_reg;			  /* a registrar: the reg_* figures */
	size_t reg_users, reg_bindings, reg_subs, reg_challenges, reg_mem;
	size_t reg_locked; /* users and addresses locked (failed authentications) */
	bool has_cscf;	   /* the CSCF stage: its counters since start */
	struct cscf_stats cscf;
	/* callflow_modifier modifiers applied since start, wherever: the
	 * CSCF stage's (cscf.cfm), the b2bua's and the SMSC's */
	uint64_t cfm_applied;
	bool has_store; /* a state file: store */
	struct registrar_store_stats store;
};

/* What one malloc_trim(0) did. */
struct stats_trim {
	struct stats_mem before, after;
	uint64_t took_us;
};

/* Starts the housekeeping timer. */
int stats_alloc(struct stats **sp, const struct stats_prm *prm);
void stats_free(struct stats *s);

/* Fills out now and starts a new interval for cpu and counters. */
void stats_sample(struct stats *s, struct stats_sample *out);
/* malloc_trim(0) now, and its effect; no new interval. */
void stats_trim_run(struct stats *s, struct stats_trim *out);

/* Reads the allocator's figures (mallinfo2(): a walk of the free lists)
 * for the samples that follow. The housekeeping timer calls it every
 * trim period while fewer than STATS_BURST_MIN transactions are live, and
 * after a burst; stats_alloc once. */
void stats_heap_refresh(struct stats *s);
/* Fills m now; fields it cannot read are 0. */
void stats_mem_get(struct stats_mem *m);
/* The housekeeping rule: free heap > min_free and > half the arena. */
bool stats_trim_due(const struct stats_mem *m, size_t min_free);
/* The burst rule: records in *peak the most live since the last look
 * (high) and live now; true (and *peak = live) when live is at most a
 * quarter of a peak of at least STATS_BURST_MIN. */
bool stats_burst_over(size_t *peak, size_t high, size_t live);
/* Runs the housekeeping check once (the timer calls it after a burst); true
 * if it trimmed. */
bool stats_housekeep(struct stats *s);

#endif
