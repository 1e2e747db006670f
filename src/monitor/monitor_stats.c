/*
 * monitor_stats — the command `stats [trim]`: the text of what stats/
 * gathers (stats_sample(), stats_trim_run()), one `name: value` line per
 * figure, in the order and with the names documented in docs/monitor.md
 * (scripts and tests/integ/test_stats.py read them).
 */
#include <errno.h>
#include <string.h>

#include "core/mbuf.h"
#include "monitor/monitor_int.h"
#include "stats/stats.h"

/* "12.345" from milliseconds */
static int print_ms(struct mbuf *out, const char *name, uint64_t ms)
{
	return mbuf_printf(out, "%s: %llu.%03llu\n", name,
			   (unsigned long long)(ms / 1000),
			   (unsigned long long)(ms % 1000));
}

static int print_cpu(const struct stats_sample *st, struct mbuf *out)
{
	uint64_t du = st->cpu_user_us, ds = st->cpu_sys_us, span = st->interval_ms;
	/* µs of CPU over ms of wall time, as % of one core */
	double pu = span ? (double)du / 10.0 / (double)span : 0.0;
	double ps = span ? (double)ds / 10.0 / (double)span : 0.0;
	int err = print_ms(out, "interval", span);

	if (!err)
		err = mbuf_printf(
		    out,
		    "cpu.user: %.2f\ncpu.system: %.2f\ncpu.total: %.2f\n"
		    "cpu_time.user: %llu.%06llu\ncpu_time.system: %llu.%06llu\n",
		    pu, ps, pu + ps, (unsigned long long)(du / 1000000),
		    (unsigned long long)(du % 1000000),
		    (unsigned long long)(ds / 1000000),
		    (unsigned long long)(ds % 1000000));
	return err;
}

static int print_counters(const struct stats_sample *st, struct mbuf *out)
{
	const struct sip_stack_stats *d = &st->sip;

	return mbuf_printf(
	    out,
	    "counters.sip.rx_req: %llu\ncounters.sip.rx_resp: %llu\n"
	    "counters.sip.rx_undecodable: %llu\ncounters.sip.rx_rejected: %llu\n"
	    "counters.sip.rx_dropped: %llu\ncounters.sip.tx_msgs: %llu\n"
	    "counters.sip.tx_err: %llu\ncounters.sip.overload_503: %llu\n"
	    "counters.sip.rx_oversize: %llu\ncounters.sip.tx_over_tcp: %llu\n"
	    "counters.sip.tx_udp_fallback: %llu\ncounters.sip.tx_unproven: %llu\n"
	    "counters.sip.tx_unproven_refused: %llu\n"
	    "counters.sip.tsx_key_503: %llu\n"
	    "counters.loop.wakeups: %llu\ncounters.loop.naps: %llu\n",
	    (unsigned long long)d->rx_req, (unsigned long long)d->rx_resp,
	    (unsigned long long)d->rx_undecodable, (unsigned long long)d->rx_rejected,
	    (unsigned long long)d->rx_dropped, (unsigned long long)d->tx_msgs,
	    (unsigned long long)d->tx_err, (unsigned long long)d->overload_503,
	    (unsigned long long)d->rx_oversize, (unsigned long long)d->tx_over_tcp,
	    (unsigned long long)d->tx_udp_fallback, (unsigned long long)d->tx_unproven,
	    (unsigned long long)d->tx_unproven_refused,
	    (unsigned long long)d->tsx_key_503, (unsigned long long)st->loop_wakeups,
	    (unsigned long long)st->loop_naps);
}

static int print_state(const struct stats_sample *st, struct mbuf *out)
{
	int err;

	err = mbuf_printf(
	    out,
	    "allocator: %s\nrss: %zu\nheap_in_use: %zu\nheap_free: %zu\n"
	    "heap_arena: %zu\nheap_age: %.1f\nheap_trims: %llu\n"
	    "heap_trim_released: %llu\nsip.tsx_server: %zu\nsip.tsx_client: %zu\n",
	    st->allocator, st->mem.rss, st->mem.heap_in_use, st->mem.heap_free,
	    st->mem.heap_arena, (double)st->heap_age_ms / 1000.0,
	    (unsigned long long)st->heap_trims,
	    (unsigned long long)st->heap_trim_released, st->tsx_server, st->tsx_client);
	if (!err && st->has_cscf)
		err = mbuf_printf(out,
				  "cscf.dispatched: %llu\ncscf.orig: %llu\ncscf.not_found: %llu\n"
				  "cscf.not_orig: %llu\ncscf.bad_event: %llu\ncscf.cfm: %llu\n",
				  (unsigned long long)st->cscf.dispatched,
				  (unsigned long long)st->cscf.orig,
				  (unsigned long long)st->cscf.not_found,
				  (unsigned long long)st->cscf.not_orig,
				  (unsigned long long)st->cscf.bad_event,
				  (unsigned long long)st->cfm_applied);
	if (!err && st->has_reg)
		err = mbuf_printf(
		    out,
		    "registrar.users: %zu\nregistrar.bindings: %zu\n"
		    "registrar.subscriptions: %zu\nregistrar.challenges: %zu\n"
		    "registrar.locked: %zu\n",
		    st->reg_users, st->reg_bindings, st->reg_subs, st->reg_challenges,
		    st->reg_locked);
	if (!err && st->has_store)
		err = mbuf_printf(out,
				  "store.users_written: %llu\nstore.commits: %llu\n"
				  "store.failures: %llu\nstore.pending: %u\n",
				  (unsigned long long)st->store.users_written,
				  (unsigned long long)st->store.commits,
				  (unsigned long long)st->store.failures,
				  st->store.pending);
	if (!err && st->has_reg)
		err = mbuf_printf(out, "registrar.mem: %zu\n", st->reg_mem);
	return err;
}

static int stats_print(struct stats *s, struct mbuf *out)
{
	struct stats_sample st;
	int err;

	stats_sample(s, &st);
	err = mbuf_printf(out, "instance_id: %llu\n", (unsigned long long)st.instance_id);
	if (!err)
		err = print_ms(out, "uptime", st.uptime_ms);
	if (!err)
		err = print_cpu(&st, out);
	if (!err)
		err = print_counters(&st, out);
	if (!err)
		err = print_state(&st, out);
	return err;
}

static int stats_all_print(struct monitor *mon, struct mbuf *out)
{
	int err = stats_print(mon->prm.stats, out);

	if (!err && mon->prm.ipsec)
		err = monitor_ipsec_counters(mon->prm.ipsec, out);
	return err;
}

static int stats_trim_print(struct stats *s, struct mbuf *out)
{
	struct stats_trim t;
	const struct stats_mem *b = &t.before, *a = &t.after;

	stats_trim_run(s, &t);
	return mbuf_printf(out,
			   "rss_before: %zu\nrss_after: %zu\nrss_released: %lld\n"
			   "heap_free_before: %zu\nheap_free_after: %zu\n"
			   "trim_time: %llu.%06llu\n",
			   b->rss, a->rss, (long long)b->rss - (long long)a->rss,
			   b->heap_free, a->heap_free,
			   (unsigned long long)(t.took_us / 1000000),
			   (unsigned long long)(t.took_us % 1000000));
}

static int stats_cmd_h(struct monitor *mon, int argc, char **argv, struct mbuf *out,
		       struct monitor_ans *ans)
{
	(void)ans;
	if (!mon->prm.stats) {
		mbuf_write_str(out, "Error: statistics are not running\n");
		return ENODEV;
	}
	if (argc == 1)
		return stats_all_print(mon, out);
	if (argc == 2 && !strcmp(argv[1], "trim"))
		return stats_trim_print(mon->prm.stats, out);
	mbuf_write_str(out, "Error: usage: stats [trim]\n");
	return EINVAL;
}

const struct monitor_cmd monitor_cmd_stats = {
    .name = "stats",
    .usage = "[trim]",
    .summary = "process statistics: uptime, CPU, memory, transactions, registrations",
    .help = "stats        one 'name: value' line per figure (docs/monitor.md):\n"
	    "  instance_id, uptime (s); interval (s) since the previous 'stats'\n"
	    "  (or the start), and over it cpu.user/system/total (% of one\n"
	    "  core), cpu_time.user/system (s), counters.sip.* (SIP messages),\n"
	    "  counters.loop.wakeups/naps (event loop; naps batch a busy load);\n"
	    "  now: rss, heap_in_use, heap_free, heap_arena (bytes, as of heap_age\n"
	    "  s ago: the housekeeping timer reads them), heap_trims,\n"
	    "  sip.tsx_server/tsx_client (live transactions), registrar.users,\n"
	    "  bindings, subscriptions, challenges, mem (bytes); with a state file\n"
	    "  (ue_db_filename) store.users_written, commits, failures, pending;\n"
	    "  with IPsec running ipsec.sets and counters.ipsec.* (as 'ipsec').\n"
	    "stats trim   give free heap back to the system (malloc_trim) and\n"
	    "  show rss_before, rss_after, rss_released (bytes).",
    .h = stats_cmd_h,
};
