/*
 * app/app_stats — the monitor command `stats` and the heap housekeeping
 * timer (app_stats.h, docs/monitor.md).
 */
#include "app/app_stats.h"

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
#include "core/mbuf.h"
#include "loop/loop.h"
#include "monitor/monitor.h"

/* Under AddressSanitizer malloc is ASan's allocator, not glibc's: mallinfo2()
 * would describe glibc's unused arena. The sanitizer's own figures are read
 * instead (declared here: gcc ships no <sanitizer/allocator_interface.h>). */
#if defined(__SANITIZE_ADDRESS__)
#define APP_STATS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define APP_STATS_ASAN 1
#endif
#endif

#ifdef APP_STATS_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);
size_t __sanitizer_get_heap_size(void);
#define APP_STATS_ALLOCATOR "sanitizer"
#else
#define APP_STATS_ALLOCATOR "glibc"
#endif

struct app_stats {
	struct sip_stack *sip;	     /* borrowed */
	const struct registrar *reg; /* borrowed */
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
	uint64_t trims;		/* housekeeping trims done */
	uint64_t trim_released; /* RSS bytes they gave back */
};

/* The command reads the current instance; one per process. */
static struct app_stats *mon_stats;

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

void app_stats_mem_get(struct app_stats_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->rss = rss_bytes();
#ifdef APP_STATS_ASAN
	m->heap_in_use = __sanitizer_get_current_allocated_bytes();
	m->heap_arena = __sanitizer_get_heap_size();
	/* ASan's free-bytes query is a stub: what is mapped and not handed
	 * out (redzones and metadata included) stands in for it. */
	m->heap_free =
	    m->heap_arena > m->heap_in_use ? m->heap_arena - m->heap_in_use : 0;
#else
	struct mallinfo2 mi = mallinfo2();

	m->heap_in_use = mi.uordblks + mi.hblkhd;
	m->heap_free = mi.fordblks;
	m->heap_arena = mi.arena;
#endif
}

bool app_stats_trim_due(const struct app_stats_mem *m, size_t min_free)
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

/* "12.345" from milliseconds */
static int print_ms(struct mbuf *out, const char *name, uint64_t ms)
{
	return mbuf_printf(out, "%s: %llu.%03llu\n", name,
			   (unsigned long long)(ms / 1000),
			   (unsigned long long)(ms % 1000));
}

static int print_cpu(struct app_stats *s, struct mbuf *out, uint64_t now)
{
	uint64_t user, sys, du, ds, span = now > s->prev_ms ? now - s->prev_ms : 0;
	double pu, ps;
	int err;

	cpu_us(&user, &sys);
	du = user > s->prev_user_us ? user - s->prev_user_us : 0;
	ds = sys > s->prev_sys_us ? sys - s->prev_sys_us : 0;
	/* µs of CPU over ms of wall time, as % of one core */
	pu = span ? (double)du / 10.0 / (double)span : 0.0;
	ps = span ? (double)ds / 10.0 / (double)span : 0.0;
	err = print_ms(out, "interval", span);
	if (!err)
		err = mbuf_printf(
		    out,
		    "cpu.user: %.2f\ncpu.system: %.2f\ncpu.total: %.2f\n"
		    "cpu_time.user: %llu.%06llu\ncpu_time.system: %llu.%06llu\n",
		    pu, ps, pu + ps, (unsigned long long)(du / 1000000),
		    (unsigned long long)(du % 1000000),
		    (unsigned long long)(ds / 1000000),
		    (unsigned long long)(ds % 1000000));
	s->prev_ms = now;
	s->prev_user_us = user;
	s->prev_sys_us = sys;
	return err;
}

static int print_counters(struct app_stats *s, struct mbuf *out)
{
	struct sip_stack_stats st = {0};
	const struct sip_stack_stats *p = &s->prev_sip;
	uint64_t wakeups, naps;
	int err;

	sip_stack_stats_get(s->sip, &st);
	loop_counts(&wakeups, &naps);
	err = mbuf_printf(
	    out,
	    "counters.sip.rx_req: %llu\ncounters.sip.rx_resp: %llu\n"
	    "counters.sip.rx_undecodable: %llu\ncounters.sip.rx_rejected: %llu\n"
	    "counters.sip.rx_dropped: %llu\ncounters.sip.tx_msgs: %llu\n"
	    "counters.sip.tx_err: %llu\ncounters.sip.overload_503: %llu\n"
	    "counters.sip.rx_oversize: %llu\ncounters.sip.tx_over_tcp: %llu\n"
	    "counters.sip.tx_udp_fallback: %llu\n"
	    "counters.loop.wakeups: %llu\ncounters.loop.naps: %llu\n",
	    (unsigned long long)(st.rx_req - p->rx_req),
	    (unsigned long long)(st.rx_resp - p->rx_resp),
	    (unsigned long long)(st.rx_undecodable - p->rx_undecodable),
	    (unsigned long long)(st.rx_rejected - p->rx_rejected),
	    (unsigned long long)(st.rx_dropped - p->rx_dropped),
	    (unsigned long long)(st.tx_msgs - p->tx_msgs),
	    (unsigned long long)(st.tx_err - p->tx_err),
	    (unsigned long long)(st.overload_503 - p->overload_503),
	    (unsigned long long)(st.rx_oversize - p->rx_oversize),
	    (unsigned long long)(st.tx_over_tcp - p->tx_over_tcp),
	    (unsigned long long)(st.tx_udp_fallback - p->tx_udp_fallback),
	    (unsigned long long)(wakeups - s->prev_wakeups),
	    (unsigned long long)(naps - s->prev_naps));
	s->prev_sip = st;
	s->prev_wakeups = wakeups;
	s->prev_naps = naps;
	return err;
}

static int print_state(const struct app_stats *s, struct mbuf *out)
{
	struct app_stats_mem m;
	size_t tsx_srv, tsx_cli;
	struct registrar_store_stats ss;
	int err;

	app_stats_mem_get(&m);
	sip_stack_tsx_counts(s->sip, &tsx_srv, &tsx_cli);
	err = mbuf_printf(out,
			  "allocator: %s\nrss: %zu\nheap_in_use: %zu\nheap_free: %zu\n"
			  "heap_arena: %zu\nheap_trims: %llu\nheap_trim_released: %llu\n"
			  "sip.tsx_server: %zu\nsip.tsx_client: %zu\n",
			  APP_STATS_ALLOCATOR, m.rss, m.heap_in_use, m.heap_free,
			  m.heap_arena, (unsigned long long)s->trims,
			  (unsigned long long)s->trim_released, tsx_srv, tsx_cli);
	if (!err && s->reg)
		err = mbuf_printf(
		    out,
		    "registrar.users: %zu\nregistrar.bindings: %zu\n"
		    "registrar.subscriptions: %zu\nregistrar.challenges: %zu\n",
		    registrar_user_count(s->reg), registrar_binding_count(s->reg),
		    registrar_sub_count(s->reg), registrar_challenge_count(s->reg));
	if (!err && s->reg && registrar_store_stats(s->reg, &ss))
		err = mbuf_printf(out,
				  "store.users_written: %llu\nstore.commits: %llu\n"
				  "store.failures: %llu\nstore.pending: %u\n",
				  (unsigned long long)ss.users_written,
				  (unsigned long long)ss.commits,
				  (unsigned long long)ss.failures, ss.pending);
	if (!err && s->reg)
		err = mbuf_printf(out, "registrar.mem: %zu\n", registrar_mem_usage(s->reg));
	return err;
}

int app_stats_print(struct app_stats *s, struct mbuf *out)
{
	uint64_t now = mono_ms();
	int err;

	err = mbuf_printf(out, "instance_id: %llu\n", (unsigned long long)s->instance_id);
	if (!err)
		err = print_ms(out, "uptime", now > s->start_ms ? now - s->start_ms : 0);
	if (!err)
		err = print_cpu(s, out, now);
	if (!err)
		err = print_counters(s, out);
	if (!err)
		err = print_state(s, out);
	return err;
}

/* malloc_trim(0) with RSS and free heap around it; *took_us its cost. */
static void trim_run(struct app_stats_mem *before, struct app_stats_mem *after,
		     uint64_t *took_us)
{
	struct timespec t0, t1;

	app_stats_mem_get(before);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	malloc_trim(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	app_stats_mem_get(after);
	*took_us = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
		   (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000);
}

int app_stats_trim_print(struct app_stats *s, struct mbuf *out)
{
	struct app_stats_mem b, a;
	uint64_t took;

	(void)s;
	trim_run(&b, &a, &took);
	return mbuf_printf(out,
			   "rss_before: %zu\nrss_after: %zu\nrss_released: %lld\n"
			   "heap_free_before: %zu\nheap_free_after: %zu\n"
			   "trim_time: %llu.%06llu\n",
			   b.rss, a.rss, (long long)b.rss - (long long)a.rss, b.heap_free,
			   a.heap_free, (unsigned long long)(took / 1000000),
			   (unsigned long long)(took % 1000000));
}

bool app_stats_housekeep(struct app_stats *s)
{
	struct app_stats_mem m, a;
	uint64_t took;

	app_stats_mem_get(&m);
	if (!app_stats_trim_due(&m, s->trim_min_free))
		return false;
	trim_run(&m, &a, &took);
	s->trims++;
	if (m.rss > a.rss)
		s->trim_released += m.rss - a.rss;
	log_write(LOG_IMS, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
		  "heap trim: rss %zu -> %zu bytes, free heap %zu -> %zu of arena %zu, "
		  "%llu us",
		  m.rss, a.rss, m.heap_free, a.heap_free, m.heap_arena,
		  (unsigned long long)took);
	return true;
}

bool app_stats_burst_over(size_t *peak, size_t high, size_t live)
{
	if (high > *peak)
		*peak = high;
	if (live > *peak)
		*peak = live;
	if (*peak < APP_STATS_BURST_MIN || live > *peak / 4)
		return false;
	*peak = live;
	return true;
}

static void housekeep_timer_h(void *arg)
{
	struct app_stats *s = arg;
	size_t servers = 0, clients = 0, high = 0;

	/* mallinfo2() walks every free chunk: under load, with a fragmented
	 * heap, that costs tens of ms. Look only once a burst is over. The
	 * high-water mark sees a burst that came and went between two looks
	 * (a short Timer J, with a small timer_t1). */
	if (s->sip) {
		sip_stack_tsx_counts(s->sip, &servers, &clients);
		high = sip_stack_tsx_peak_take(s->sip);
	}
	if (!s->sip || app_stats_burst_over(&s->tsx_peak, high, servers + clients))
		app_stats_housekeep(s);
	loop_timer_start(s->timer, s->trim_period_ms, housekeep_timer_h, s);
}

static int stats_cmd_h(int argc, char **argv, struct mbuf *out, void *arg)
{
	(void)arg;
	if (!mon_stats) {
		mbuf_write_str(out, "Error: statistics are not running\n");
		return ENODEV;
	}
	if (argc == 1)
		return app_stats_print(mon_stats, out);
	if (argc == 2 && !strcmp(argv[1], "trim"))
		return app_stats_trim_print(mon_stats, out);
	mbuf_write_str(out, "Error: usage: stats [trim]\n");
	return EINVAL;
}

static const struct monitor_cmd stats_cmd[] = {{
    .name = "stats",
    .usage = "[trim]",
    .summary = "process statistics: uptime, CPU, memory, transactions, registrations",
    .help = "stats        one 'name: value' line per figure (docs/monitor.md):\n"
	    "  instance_id, uptime (s); interval (s) since the previous 'stats'\n"
	    "  (or the start), and over it cpu.user/system/total (% of one\n"
	    "  core), cpu_time.user/system (s), counters.sip.* (SIP messages),\n"
	    "  counters.loop.wakeups/naps (event loop; naps batch a busy load);\n"
	    "  now: rss, heap_in_use, heap_free, heap_arena (bytes), heap_trims,\n"
	    "  sip.tsx_server/tsx_client (live transactions), registrar.users,\n"
	    "  bindings, subscriptions, challenges, mem (bytes); with a state file\n"
	    "  (ue_db_filename) store.users_written, commits, failures, pending.\n"
	    "stats trim   give free heap back to the system (malloc_trim) and\n"
	    "  show rss_before, rss_after, rss_released (bytes).",
    .h = stats_cmd_h,
}};

int app_stats_alloc(struct app_stats **sp, const struct app_stats_prm *prm)
{
	struct app_stats *s = calloc(1, sizeof(*s));
	uint64_t now = mono_ms(), age = process_age_ms();
	int err;

	if (!s)
		return ENOMEM;
	s->sip = prm->sip;
	s->reg = prm->reg;
	s->trim_period_ms =
	    prm->trim_period_ms ? prm->trim_period_ms : APP_STATS_TRIM_PERIOD_MS;
	s->trim_min_free =
	    prm->trim_min_free ? prm->trim_min_free : APP_STATS_TRIM_MIN_FREE;
	s->instance_id = instance_id_make();
	/* the first interval starts with the process: CPU totals from 0 */
	s->start_ms = now > age ? now - age : 0;
	s->prev_ms = s->start_ms;
	s->timer = loop_timer_alloc();
	if (!s->timer) {
		err = ENOMEM;
		goto out;
	}
	err = monitor_cmds_register(stats_cmd, 1);
	if (err == EEXIST)
		err = 0;
	if (err)
		goto out;
	loop_timer_start(s->timer, s->trim_period_ms, housekeep_timer_h, s);
	mon_stats = s;
	*sp = s;
out:
	if (err)
		app_stats_free(s);
	return err;
}

void app_stats_free(struct app_stats *s)
{
	if (!s)
		return;
	if (mon_stats == s)
		mon_stats = NULL;
	loop_timer_free(s->timer);
	free(s);
}
