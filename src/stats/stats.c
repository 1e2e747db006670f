/*
 * stats — process statistics gathered as data, and the heap housekeeping
 * timer (stats.h, docs/monitor.md).
 */
#include "stats/stats.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "loop/loop.h"

/* Under AddressSanitizer malloc is ASan's allocator, not glibc's: mallinfo2()
 * would describe glibc's unused arena. The sanitizer's own figures are read
 * instead (declared here: gcc ships no <sanitizer/allocator_interface.h>). */
#if defined(__SANITIZE_ADDRESS__)
#define STATS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STATS_ASAN 1
#endif
#endif

#ifdef STATS_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);
size_t __sanitizer_get_heap_size(void);
#define STATS_ALLOCATOR "sanitizer"
#else
#define STATS_ALLOCATOR "glibc"
#endif

struct stats {
	struct sip_stack *sip;	     /* borrowed */
	const struct registrar *reg; /* borrowed */
	const struct cscf *cscf;     /* borrowed */
	const struct b2bua *b2bua;   /* borrowed, may be NULL */
	const struct smsc *smsc;     /* borrowed, may be NULL */
	struct loop_timer *timer;    /* owned: housekeeping */
	uint32_t trim_period_ms;
	size_t trim_min_free;
	uint64_t instance_id;
	uint64_t start_ms;     /* monotonic ms at process start (estimated) */
	uint64_t prev_ms;      /* monotonic ms of the previous `stats` */
	uint64_t prev_user_us; /* CPU at the previous `stats` */
	uint64_t prev_sys_us;
	struct sip_stack_stats prev_sip;
	uint64_t prev_wakeups, prev_naps;
	size_t tsx_peak;	/* live transactions: highest since the last look */
	struct stats_mem heap;	/* the allocator's figures at heap_at_ms */
	uint64_t heap_at_ms;
	uint64_t trims;		/* housekeeping trims done */
	uint64_t trim_released; /* RSS bytes they gave back */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Milliseconds since the process started: CLOCK_BOOTTIME against field 22
 * of /proc/self/stat (clock ticks after boot); 0 if unreadable. */
static uint64_t process_age_ms(void)
{
	char buf[1024];
	unsigned long long start_ticks;
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n;
	char *p;
	uint64_t start, now;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and ')': skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p || hz <= 0)
		return 0;
	/* fields 3..21 are skipped, 22 is starttime */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
		   "%*d %*d %*d %*d %llu",
		   &start_ticks) != 1)
		return 0;
	if (clock_gettime(CLOCK_BOOTTIME, &ts))
		return 0;
	start = (uint64_t)start_ticks * 1000 / (uint64_t)hz;
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return now > start ? now - start : 0;
}

/* Constant over the process's life, different after a restart (manual §6
 * `stats`): 48 random bits, so that it stays exact as a JSON number. */
static uint64_t instance_id_make(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
		    ((uint64_t)getpid() << 20);
	}
	v &= (UINT64_C(1) << 48) - 1;
	return v ? v : 1;
}

static size_t rss_bytes(void)
{
	unsigned long long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	long page = sysconf(_SC_PAGESIZE);
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 && page > 0 ? (size_t)(resident * (unsigned long long)page) : 0;
}

void stats_mem_get(struct stats_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->rss = rss_bytes();
#ifdef STATS_ASAN
	m->heap_in_use = __sanitizer_get_current_allocated_bytes();
	m->heap_arena = __sanitizer_get_heap_size();
	/* ASan reports no free-bytes figure of its own (its query returns a
	 * constant): what is mapped and not handed out (redzones and metadata
	 * included) stands in for it. */
	m->heap_free =
	    m->heap_arena > m->heap_in_use ? m->heap_arena - m->heap_in_use : 0;
#else
	struct mallinfo2 mi = mallinfo2();

	m->heap_in_use = mi.uordblks + mi.hblkhd;
	m->heap_free = mi.fordblks;
	m->heap_arena = mi.arena;
#endif
}

bool stats_trim_due(const struct stats_mem *m, size_t min_free)
{
	return m->heap_free > min_free && m->heap_free > m->heap_arena / 2;
}

static void cpu_us(uint64_t *user, uint64_t *sys)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru)) {
		*user = *sys = 0;
		return;
	}
	*user = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec;
	*sys = (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
}

/* CPU over the interval; starts the next one at now. */
static void sample_cpu(struct stats *s, struct stats_sample *out, uint64_t now)
{
	uint64_t user, sys;

	cpu_us(&user, &sys);
	out->interval_ms = now > s->prev_ms ? now - s->prev_ms : 0;
	out->cpu_user_us = user > s->prev_user_us ? user - s->prev_user_us : 0;
	out->cpu_sys_us = sys > s->prev_sys_us ? sys - s->prev_sys_us : 0;
	s->prev_ms = now;
	s->prev_user_us = user;
	s->prev_sys_us = sys;
}

/* SIP and loop counters over the interval; starts the next one. */
static void sample_counters(struct stats *s, struct stats_sample *out)
{
	struct sip_stack_stats st = {0};
	const struct sip_stack_stats *p = &s->prev_sip;
	uint64_t wakeups, naps;

	sip_stack_stats_get(s->sip, &st);
	loop_counts(&wakeups, &naps);
	out->sip.rx_req = st.rx_req - p->rx_req;
	out->sip.rx_resp = st.rx_resp - p->rx_resp;
	out->sip.rx_undecodable = st.rx_undecodable - p->rx_undecodable;
	out->sip.rx_rejected = st.rx_rejected - p->rx_rejected;
	out->sip.rx_oversize = st.rx_oversize - p->rx_oversize;
	out->sip.rx_dropped = st.rx_dropped - p->rx_dropped;
	out->sip.rx_keepalive = st.rx_keepalive - p->rx_keepalive;
	out->sip.tx_msgs = st.tx_msgs - p->tx_msgs;
	out->sip.tx_err = st.tx_err - p->tx_err;
	out->sip.tx_over_tcp = st.tx_over_tcp - p->tx_over_tcp;
	out->sip.tx_udp_fallback = st.tx_udp_fallback - p->tx_udp_fallback;
	out->sip.overload_503 = st.overload_503 - p->overload_503;
	out->sip.no_handler = st.no_handler - p->no_handler;
	out->sip.tx_unproven = st.tx_unproven - p->tx_unproven;
	out->sip.tx_unproven_refused = st.tx_unproven_refused - p->tx_unproven_refused;
	out->sip.tsx_key_503 = st.tsx_key_503 - p->tsx_key_503;
	out->loop_wakeups = wakeups - s->prev_wakeups;
	out->loop_naps = naps - s->prev_naps;
	s->prev_sip = st;
	s->prev_wakeups = wakeups;
	s->prev_naps = naps;
}

void stats_heap_refresh(struct stats *s)
{
	stats_mem_get(&s->heap);
	s->heap_at_ms = mono_ms();
}

/* The callflow_modifier modifiers applied since start by every service
 * that applies them (docs/callflow_modifier.md): the CSCF stage, the
 * b2bua (calls) and the SMSC (MT MESSAGEs). */
static uint64_t cfm_applied(const struct stats *s, const struct cscf_stats *cs)
{
	struct b2bua_stats b = {0};
	struct smsc_stats m = {0};

	if (s->b2bua)
		b2bua_stats_get(s->b2bua, &b);
	smsc_stats_get(s->smsc, &m);
	return cs->cfm + b.cfm + m.cfm;
}

/* The figures of now: memory, transactions, the registrar and its store.
 * The allocator's are those of the last housekeeping look (mallinfo2()
 * walks the free lists: 150-636 ms with a million transactions live, a
 * stall of signalling for an operator's `stats`); VmRSS is read now. */
static void sample_state(const struct stats *s, struct stats_sample *out, uint64_t now)
{
	out->allocator = STATS_ALLOCATOR;
	out->mem = s->heap;
	out->mem.rss = rss_bytes();
	out->heap_age_ms = now > s->heap_at_ms ? now - s->heap_at_ms : 0;
	out->heap_trims = s->trims;
	out->heap_trim_released = s->trim_released;
	sip_stack_tsx_counts(s->sip, &out->tsx_server, &out->tsx_client);
	out->has_cscf = s->cscf != NULL;
	cscf_stats_get(s->cscf, &out->cscf);
	out->cfm_applied = cfm_applied(s, &out->cscf);
	if (!s->reg)
		return;
	out->has_reg = true;
	out->reg_users = registrar_user_count(s->reg);
	out->reg_bindings = registrar_binding_count(s->reg);
	out->reg_subs = registrar_sub_count(s->reg);
	out->reg_challenges = registrar_challenge_count(s->reg);
	out->reg_locked = registrar_locked_count(s->reg);
	out->has_store = registrar_store_stats(s->reg, &out->store);
	out->reg_mem = registrar_mem_usage(s->reg);
}

void stats_sample(struct stats *s, struct stats_sample *out)
{
	uint64_t now = mono_ms();

	memset(out, 0, sizeof(*out));
	out->instance_id = s->instance_id;
	out->uptime_ms = now > s->start_ms ? now - s->start_ms : 0;
	sample_cpu(s, out, now);
	sample_counters(s, out);
	sample_state(s, out, now);
}

/* malloc_trim(0) with RSS and free heap around it. */
void stats_trim_run(struct stats *s, struct stats_trim *out)
{
	struct timespec t0, t1;

	(void)s;
	stats_mem_get(&out->before);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	malloc_trim(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	stats_mem_get(&out->after);
	out->took_us = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
		       (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000);
}

bool stats_housekeep(struct stats *s)
{
	struct stats_mem m;
	struct stats_trim t;

	stats_mem_get(&m);
	s->heap = m;
	s->heap_at_ms = mono_ms();
	if (!stats_trim_due(&m, s->trim_min_free))
		return false;
	stats_trim_run(s, &t);
	s->heap = t.after;
	s->heap_at_ms = mono_ms();
	s->trims++;
	if (t.before.rss > t.after.rss)
		s->trim_released += t.before.rss - t.after.rss;
	log_write(LOG_IMS, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
		  "heap trim: rss %zu -> %zu bytes, free heap %zu -> %zu of arena %zu, "
		  "%llu us",
		  t.before.rss, t.after.rss, t.before.heap_free, t.after.heap_free,
		  t.before.heap_arena, (unsigned long long)t.took_us);
	return true;
}

bool stats_burst_over(size_t *peak, size_t high, size_t live)
{
	if (high > *peak)
		*peak = high;
	if (live > *peak)
		*peak = live;
	if (*peak < STATS_BURST_MIN || live > *peak / 4)
		return false;
	*peak = live;
	return true;
}

static void housekeep_timer_h(void *arg)
{
	struct stats *s = arg;
	size_t servers = 0, clients = 0, high = 0;

	/* mallinfo2() walks every free chunk: under load, with a fragmented
	 * heap, that costs tens of ms. Look only once a burst is over. The
	 * high-water mark sees a burst that came and went between two looks
	 * (a short Timer J, with a small timer_t1). */
	if (s->sip) {
		sip_stack_tsx_counts(s->sip, &servers, &clients);
		high = sip_stack_tsx_peak_take(s->sip);
	}
	if (!s->sip || stats_burst_over(&s->tsx_peak, high, servers + clients))
		stats_housekeep(s);
	else if (high < STATS_BURST_MIN && servers + clients < STATS_BURST_MIN)
		stats_heap_refresh(s); /* no burst going on: a short walk */
	loop_timer_start(s->timer, s->trim_period_ms, housekeep_timer_h, s);
}

int stats_alloc(struct stats **sp, const struct stats_prm *prm)
{
	struct stats *s = calloc(1, sizeof(*s));
	uint64_t now = mono_ms(), age = process_age_ms();
	int err = 0;

	if (!s)
		return ENOMEM;
	s->sip = prm->sip;
	s->reg = prm->reg;
	s->cscf = prm->cscf;
	s->b2bua = prm->b2bua;
	s->smsc = prm->smsc;
	s->trim_period_ms =
	    prm->trim_period_ms ? prm->trim_period_ms : STATS_TRIM_PERIOD_MS;
	s->trim_min_free = prm->trim_min_free ? prm->trim_min_free : STATS_TRIM_MIN_FREE;
	s->instance_id = instance_id_make();
	/* the first interval starts with the process: CPU totals from 0 */
	s->start_ms = now > age ? now - age : 0;
	s->prev_ms = s->start_ms;
	s->timer = loop_timer_alloc();
	if (!s->timer) {
		err = ENOMEM;
		goto out;
	}
	loop_timer_start(s->timer, s->trim_period_ms, housekeep_timer_h, s);
	stats_heap_refresh(s);
	*sp = s;
out:
	if (err)
		stats_free(s);
	return err;
}

void stats_free(struct stats *s)
{
	if (!s)
		return;
	loop_timer_free(s->timer);
	free(s);
}
