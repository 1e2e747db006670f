#!/usr/bin/env python3
"""Markdown report of a regbench.py run, and its insertion into bench/RESULTS.md.

  python3 regreport.py WORKDIR/results.jsonl              print the report
  python3 regreport.py WORKDIR/results.jsonl --append F   also add it to F
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import append_section  # noqa: E402

SECTION = "## register — AKA registration vs Kamailio MD5 (bench/register/)"
CLEAN_FAIL_PCT = 0.1        # "< 0.1 % failures"
CLEAN_ACHIEVED = 0.97       # and achieved >= 97 % of offered
SIPP_SATURATED = 0.9        # cores of one UAC
TARGET_CPU_RATIO = 0.5      # imsd CPU per registration <= half of Kamailio's
TARGET_MEM_B = 512          # bytes per registered user with one binding
FOREIGN_MAX = 0.25          # cores used by other processes before a step is "disturbed"
LABEL = {"kamailio": "Kamailio (MD5)", "imsd": "imsd (AKAv1-MD5)",
         "imsd-state": "imsd (AKAv1-MD5) with its state file",
         "imsd-b": "imsd B (AKAv1-MD5)", "imsd-b-state": "imsd B (AKAv1-MD5) with its state file",
         "selftest-aka": "selftest stand-in (AKA, NOT imsd)"}


def ms(v):
    if v is None:
        return "-"
    return "<1" if v == 0 else f"{v:g}"


def rt_pair(r, name="1"):
    rt = (r.get("rt_ms") or {}).get(name)
    return f"{ms(rt['p50'])} / {ms(rt['p95'])}" if rt else "-"


def rt_triple(r, name="1"):
    rt = (r.get("rt_ms") or {}).get(name)
    return f"{ms(rt['p50'])} / {ms(rt['p95'])} / {ms(rt['p99'])}" if rt else "-"


def clean(r):
    return (r["ok"] > 0 and r["fail_pct"] < CLEAN_FAIL_PCT
            and r["achieved_rate"] >= CLEAN_ACHIEVED * r["offered_rate"])


def fmt_int(v):
    return "-" if v is None else f"{v:,.0f}"


def rnd(r):
    """The round of a rate step; results from before the rounds had one."""
    return r.get("round", 1)


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def step_groups(steps):
    """{(server, rate, UACs): [rows in round order]}, keys in the order run."""
    g = {}
    for r in steps:
        g.setdefault((r["server"], r["offered_rate"], r["sipp_instances"]), []).append(r)
    for rows in g.values():
        rows.sort(key=rnd)
    return g


def agg(rows):
    """One step of one server over its rounds: medians, and clean in every round."""
    p95 = [((r.get("rt_ms") or {}).get("1") or {}).get("p95") for r in rows]
    p50 = [((r.get("rt_ms") or {}).get("1") or {}).get("p50") for r in rows]
    return {"rows": rows, "n": len(rows),
            "us": med(r["us_per_reg"] for r in rows),
            "us_load": med(r["us_per_reg_load_only"] for r in rows),
            "us_each": [r["us_per_reg"] for r in rows],
            "us_load_each": [r["us_per_reg_load_only"] for r in rows],
            "achieved": med(r["achieved_rate"] for r in rows),
            "failed": sum(r["failed"] for r in rows),
            "worst_fail_pct": max(r["fail_pct"] for r in rows),
            "p50": med(p50), "p95": med(p95),
            "clean": all(clean(r) for r in rows),
            "n_clean": sum(1 for r in rows if clean(r)),
            "sipp_bound": any(max(r["sipp_cores"] or [0]) >= SIPP_SATURATED for r in rows)}


def with_rounds(m, each, fmt):
    """'31 (29, 31, 40)': the median, then every round's value in round order."""
    if m is None:
        return "-"
    if len(each) < 2:
        return fmt(m)
    return f"{fmt(m)} ({', '.join(fmt(v) if v is not None else '-' for v in each)})"


def ratio(v):
    return f"{v:.2f}"


def paired(ga, gb, key="us_per_reg"):
    """[(round, b/a)] over the rounds where both ran the step (back to back)."""
    a = {rnd(r): r[key] for r in ga["rows"]}
    out = []
    for r in gb["rows"]:
        x = a.get(rnd(r))
        if x and r[key]:
            out.append((rnd(r), r[key] / x))
    return out


def step_cell(g):
    if g is None:
        return ["not run", "-", "-"]
    sat = " (SIPp-bound)" if g["sipp_bound"] else ""
    fails = f"{g['failed']:,} failed"
    if g["failed"]:
        fails += (f" (worst round {g['worst_fail_pct']:.2f} %)" if g["n"] > 1 else
                  f" ({g['worst_fail_pct']:.2f} %)")
    if g["n"] > 1 and g["n_clean"] < g["n"]:
        fails += f", clean in {g['n_clean']} of {g['n']} rounds"
    return [f"{fmt_int(g['achieved'])}, {fails}{sat}",
            f"{ms(g['p50'])} / {ms(g['p95'])}",
            with_rounds(g["us"], g["us_each"], fmt_int)]


def side_by_side(steps, servers, interleaved):
    """interleaved: the run had rounds (both servers back to back per step),
    so the per-round ratios pair measurements taken a minute apart."""
    groups = step_groups(steps)
    keys = sorted({(rate, inst) for _, rate, inst in groups})
    a, b = servers
    out = [f"| offered /s | SIPp UACs | rounds | {LABEL.get(a, a)}: achieved /s, failed "
           f"| p50 / p95 ms | CPU µs per registration | {LABEL.get(b, b)}: achieved /s, failed "
           f"| p50 / p95 ms | CPU µs per registration | {b} / {a} CPU, ratio of medians "
           + (f"| {b} / {a} CPU, paired ratio |" if interleaved else "|"),
           "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if interleaved else "")]
    for rate, inst in keys:
        ga, gb = groups.get((a, rate, inst)), groups.get((b, rate, inst))
        ga, gb = (agg(ga) if ga else None), (agg(gb) if gb else None)
        n = max(g["n"] for g in (ga, gb) if g)
        q, pr = "-", "-"
        if ga and gb and ga["us"] and gb["us"]:
            q = ratio(gb["us"] / ga["us"])
            pairs = paired(ga, gb)
            if pairs:
                pr = with_rounds(med(x for _, x in pairs), [x for _, x in pairs], ratio)
        out.append(f"| {rate:,} | {inst} | {n} | " + " | ".join(step_cell(ga)) + " | "
                   + " | ".join(step_cell(gb)) + f" | {q} |" + (f" {pr} |" if interleaved else ""))
    return out


def load_only(steps, servers):
    """CPU over the load window alone (without the expiry of the transaction
    state): medians over the rounds, and the paired ratio."""
    groups = step_groups(steps)
    keys = sorted({(rate, inst) for _, rate, inst in groups})
    a, b = servers
    out = [f"| offered /s | SIPp UACs | {a} µs per registration | {b} µs per registration "
           f"| {b} / {a}, ratio of medians | {b} / {a}, paired ratio |",
           "|---|---|---|---|---|---|"]
    for rate, inst in keys:
        ga, gb = groups.get((a, rate, inst)), groups.get((b, rate, inst))
        ga, gb = (agg(ga) if ga else None), (agg(gb) if gb else None)
        cells = [with_rounds(g["us_load"], g["us_load_each"], fmt_int) if g else "not run"
                 for g in (ga, gb)]
        q, pr = "-", "-"
        if ga and gb and ga["us_load"] and gb["us_load"]:
            q = ratio(gb["us_load"] / ga["us_load"])
            pairs = paired(ga, gb, "us_per_reg_load_only")
            if pairs:
                pr = with_rounds(med(x for _, x in pairs), [x for _, x in pairs], ratio)
        out.append(f"| {rate:,} | {inst} | {cells[0]} | {cells[1]} | {q} | {pr} |")
    return out


def user_us(r):
    """The user-time part of us_per_reg (rows from before us_per_reg_user: the
    total less the kernel part); None if not measured."""
    if r.get("us_per_reg_user") is not None:
        return r["us_per_reg_user"]
    if r.get("us_per_reg") is None or r.get("us_per_reg_kernel") is None:
        return None
    return r["us_per_reg"] - r["us_per_reg_kernel"]


def kernel_split(steps, servers):
    """us_per_reg split into user and kernel time, medians over the rounds
    (runs recorded before the split was measured show '-'); with two servers,
    the paired ratio (2nd / 1st) of each part."""
    groups = step_groups(steps)
    keys = sorted({(rate, inst) for _, rate, inst in groups})
    head = "| offered /s | SIPp UACs |"
    for s in servers:
        head += f" {s}: user / kernel µs per registration |"
    two = len(servers) == 2
    if two:
        head += (f" {servers[1]} / {servers[0]} user, paired ratio "
                 f"| {servers[1]} / {servers[0]} kernel, paired ratio |")
    out = [head, "|---|---|" + "---|" * (len(servers) + (2 if two else 0))]
    for rate, inst in keys:
        cells = []
        for s in servers:
            rows = groups.get((s, rate, inst)) or []
            kern = [r.get("us_per_reg_kernel") for r in rows]
            user = [user_us(r) for r in rows]
            if not rows or None in kern or None in user:
                cells.append("-")
                continue
            cells.append(f"{fmt_int(med(user))} / {fmt_int(med(kern))}")
        if two:
            ga, gb = (groups.get((s, rate, inst)) for s in servers)
            for part in (user_us, lambda r: r.get("us_per_reg_kernel")):
                a = {rnd(r): part(r) for r in ga or []}
                pairs = [(rnd(r), part(r) / a[rnd(r)]) for r in gb or []
                         if a.get(rnd(r)) and part(r) is not None]
                cells.append(with_rounds(med(x for _, x in pairs), [x for _, x in pairs], ratio)
                             if pairs else "-")
        out.append(f"| {rate:,} | {inst} | " + " | ".join(cells) + " |")
    return out


def detail(steps, servers):
    """Every step of every round, grouped by server and step."""
    first = {}
    for i, r in enumerate(steps):
        first.setdefault((r["server"], r["tag"]), i)
    order = sorted(steps, key=lambda r: (r["kind"] != "mem_step",
                                         servers.index(r["server"]) if r["server"] in servers
                                         else len(servers),
                                         first[(r["server"], r["tag"])], rnd(r)))
    out = ["| server | step | round | offered /s | UACs | registrations ok | failed (%) "
           "| retrans | achieved /s | p50 / p95 / p99 ms (whole) | p50 / p95 ms (401) "
           "| server cores | µs/reg (load + expiry) | µs/reg (load only) | SIPp cores per UAC "
           "| softirq / other / idle peer server cores |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in order:
        if r["kind"] == "mem_step":
            round_cell = "-"
        else:
            pos = {1: ", 1st", 2: ", 2nd"}.get(r.get("pair_pos"), "")
            round_cell = f"{rnd(r)}{pos}"
        peer = r.get("peer_server_cores")
        out.append(
            f"| {r['server']} | {r['tag']} | {round_cell} | {r['offered_rate']:,} "
            f"| {r['sipp_instances']} "
            f"| {r['ok']:,} | {r['failed']} ({r['fail_pct']:.3f} %) | {r['retrans']} "
            f"| {fmt_int(r['achieved_rate'])} | {rt_triple(r)} | {rt_pair(r, '2')} "
            f"| {r['server_cores']:.2f} | {fmt_int(r['us_per_reg'])} "
            f"| {fmt_int(r['us_per_reg_load_only'])} "
            f"| {' + '.join(f'{c:.2f}' for c in r['sipp_cores'])} "
            f"| {r['softirq_cores']:.2f} / {r['foreign_cores']:.2f} / "
            f"{'-' if peer is None else f'{peer:.2f}'} |")
    return out


def mem_rows(mems):
    """-> (table lines, {server: RSS/shm bytes per user}, {server: heap bytes per user})"""
    out = ["| server | users registered | what | before | after the 1st half | after all "
           "| per registered user (all) | per user of the 2nd half |",
           "|---|---|---|---|---|---|---|---|"]
    per, per_heap, notes = {}, {}, []
    for m in mems:
        s = m["samples"]
        b, h0, h1 = s.get("base", {}), s.get("after_half0", {}), s.get("after_half1", {})
        n0, n1 = h0.get("ok", 0), h1.get("ok", 0)
        if m["server"] == "kamailio":
            n_all = h1.get("registered") or (n0 + n1)
            n_first = h0.get("registered") or n0
            n_second = n_all - n_first
            key, what, unit = "shm_real_used", "shm real_used (B)", 1
        elif None not in (b.get("registered"), h0.get("registered"), h1.get("registered")):
            # imsd's own count (registrar.users): the probe's user is in it
            n_all = h1["registered"] - b["registered"]
            n_second = h1["registered"] - h0["registered"]
            key, what, unit = "rss_kib", "VmRSS (KiB)", 1024
        else:
            n_all, n_second = n0 + n1, n1
            key, what, unit = "rss_kib", "VmRSS (KiB)", 1024
        v0, v1, v2 = b.get(key), h0.get(key), h1.get(key)
        p_all = (v2 - v0) * unit / n_all if None not in (v0, v2) and n_all else None
        p_2nd = (v2 - v1) * unit / n_second if None not in (v1, v2) and n_second else None
        per[m["server"]] = p_all
        out.append(f"| {m['server']} | {n_all:,} | {what} | {fmt_int(v0)} | {fmt_int(v1)} "
                   f"| {fmt_int(v2)} | {fmt_int(p_all)} B | {fmt_int(p_2nd)} B |")
        if m["server"] == "kamailio":
            out.append(f"| kamailio | {n_all:,} | PSS of all processes (KiB) "
                       f"| {fmt_int(b.get('pss_sum_kib'))} | {fmt_int(h0.get('pss_sum_kib'))} "
                       f"| {fmt_int(h1.get('pss_sum_kib'))} | - | - |")
            continue
        # imsd's own figures from its monitor `stats` (docs/monitor.md)
        for key, what in (("heap_in_use", "heap in use (B)"),
                          ("registrar_mem", "registrar.mem (B)")):
            v0, v1, v2 = b.get(key), h0.get(key), h1.get(key)
            if None in (v0, v1, v2):
                continue
            q_all = (v2 - v0) / n_all if n_all else None
            q_2nd = (v2 - v1) / n_second if n_second else None
            if key == "heap_in_use":
                per_heap[m["server"]] = q_all
            out.append(f"| {m['server']} | {n_all:,} | {what} | {fmt_int(v0)} | {fmt_int(v1)} "
                       f"| {fmt_int(v2)} | {fmt_int(q_all)} B | {fmt_int(q_2nd)} B |")
        trimmed = h1.get("rss_trimmed")
        if trimmed is not None:
            q_all = (trimmed - b["rss_kib"] * 1024) / n_all if b.get("rss_kib") and n_all else None
            out.append(f"| {m['server']} | {n_all:,} | VmRSS after `stats trim` (KiB) | - | - "
                       f"| {fmt_int(trimmed / 1024)} | {fmt_int(q_all)} B | - |")
        if h1.get("trim_time_s") is not None:
            notes.append(f"{m['server']}: `stats trim` (malloc_trim, on the loop's thread) "
                         f"took {h1['trim_time_s'] * 1e6:,.0f} µs with every user registered.")
        live = [(k, x.get("tsx_server"), x.get("tsx_client")) for k, x in
                (("before", b), ("after the 1st half", h0), ("after all", h1))
                if x.get("tsx_server") or x.get("tsx_client")]
        if live:
            notes.append(f"{m['server']}: SIP transactions still live when sampled ("
                         + "; ".join(f"{k}: {sv} server, {cl} client" for k, sv, cl in live)
                         + "), their memory is in the figures.")
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    return out, per, per_heap


def best_clean(groups, server):
    """The step of server with the highest offered rate clean in every round."""
    ok = [(k, agg(rows)) for k, rows in groups.items() if k[0] == server]
    ok = [(k, g) for k, g in ok if g["clean"]]
    if not ok:
        return None
    return max(ok, key=lambda x: (x[0][1], -x[0][2]))


def summary(run, steps, per_mem, per_heap, probes, servers, budget):
    out = []
    groups = step_groups(steps)
    crit = (f"< {CLEAN_FAIL_PCT} % failures and ≥ {CLEAN_ACHIEVED:.0%} achieved"
            + (" in every round" if run.get("rounds", 1) > 1 else ""))
    for s in servers:
        b = best_clean(groups, s)
        if b:
            (_, rate, inst), g = b
            over = f" (median of {g['n']} rounds)" if g["n"] > 1 else ""
            out.append(f"- **{LABEL.get(s, s)}**: highest offered rate with {crit}: "
                       f"**{rate:,}/s** ({inst} SIPp UAC{'s' if inst > 1 else ''}, "
                       f"{fmt_int(g['us'])} µs CPU per registration{over}, p95 "
                       f"{ms(g['p95'])} ms)")
        elif s in probes and not probes[s]["ok"]:
            out.append(f"- **{LABEL.get(s, s)}**: not measured: {probes[s]['message']}")
        else:
            out.append(f"- **{LABEL.get(s, s)}**: no step with {crit}")
    if len(servers) == 2:
        a, b = servers
        ratios = []
        for (srv, rate, inst), rows in sorted(groups.items(), key=lambda x: x[0][1:]):
            o = groups.get((a, rate, inst))
            if srv != b or not o:
                continue
            gb, ga = agg(rows), agg(o)
            pairs = paired(ga, gb)
            if ga["clean"] and gb["clean"] and pairs:
                ratios.append((rate, inst, med(x for _, x in pairs), gb["us"] / ga["us"],
                               len(pairs)))
        if ratios:
            worst = max(x[2] for x in ratios)
            met = "met" if worst <= TARGET_CPU_RATIO else "NOT met"
            # the target is imsd against Kamailio; other pairs (imsd
            # with and without its state file) only report the ratio
            target = (f" Target ≤ {TARGET_CPU_RATIO} (paired ratio, every such step): "
                      f"**{met}**." if a == "kamailio" else "")
            if max(x[4] for x in ratios) > 1:
                txt = ", ".join(f"{q:.2f} at {rate:,}/s×{inst} (ratio of medians {m:.2f})"
                                for rate, inst, q, m, _ in ratios)
                out.append(f"- CPU per registration, {b} / {a}, paired ratio (the median over "
                           f"the rounds of {b}'s figure over {a}'s of the same round, the two "
                           f"run back to back), at the steps both ran cleanly in every round: "
                           f"{txt}.{target}")
            else:
                txt = ", ".join(f"{q:.2f} at {rate:,}/s×{inst}" for rate, inst, q, _, _ in ratios)
                out.append(f"- CPU per registration, {b} / {a} at the steps both ran cleanly "
                           f"(one round): {txt}.{target.replace(' (paired ratio, every such step)', '')}")
            if a != "kamailio" and len(ratios) > 1:
                # A/B (or the state file's cost): one figure over the steps
                qs = [x[2] for x in ratios]
                out.append(f"- Over those {len(qs)} steps, {b} / {a}: median {med(qs):.3f}, "
                           f"lowest {min(qs):.3f}, highest {max(qs):.3f}.")
        else:
            out.append(f"- CPU per registration {b} / {a}: no step where both ran cleanly.")
    for s, v in per_mem.items():
        if v is None:
            continue
        if s == "kamailio":
            out.append(f"- Kamailio shared memory per registered contact: {v:,.0f} B "
                       "(usrloc AoR + contact, tlsf overhead included).")
        elif per_heap.get(s) is not None:
            h = per_heap[s]
            met = "met" if h <= TARGET_MEM_B else "NOT met"
            out.append(f"- {LABEL.get(s, s)} heap in use per registered user (one binding, "
                       f"from its `stats`): {h:,.0f} B; RSS growth per user {v:,.0f} B (includes "
                       f"the free heap malloc keeps after the transactions expired). Target ≤ "
                       f"{TARGET_MEM_B} B (heap in use): **{met}**.")
        else:
            met = "met" if v <= TARGET_MEM_B else "NOT met"
            out.append(f"- {LABEL.get(s, s)} RSS growth per registered user (one binding): "
                       f"{v:,.0f} B. Target ≤ {TARGET_MEM_B} B: **{met}**.")
    noisy = [r for r in steps if r["foreign_cores"] > FOREIGN_MAX]
    if noisy:
        worst = max(r["foreign_cores"] for r in noisy)
        out.append(f"- **Disturbed**: other processes on the machine used more than "
                   f"{FOREIGN_MAX} cores during {len(noisy)} of {len(steps)} steps (up to "
                   f"{worst:.2f} cores, column \"other\"); those figures are not the servers' "
                   "own. Run again on an idle machine.")
    for x in budget:
        out.append(f"- **Time budget reached**: {x['message']}; the medians of those steps "
                   "are over fewer rounds (column \"rounds\").")
    if run.get("quick"):
        out.append("- Quick smoke run (few users, short steps, no expiry wait): the figures only "
                   "show that the harness works; they are not the benchmark.")
    return out


def render(jsonl):
    rows = [json.loads(l) for l in open(jsonl) if l.strip()]
    run = next((r for r in rows if r.get("kind") == "run"), {})
    steps = [r for r in rows if r.get("kind") in ("step", "mem_step")]
    main_steps = [r for r in rows if r.get("kind") == "step"]
    mems = [r for r in rows if r.get("kind") == "mem"]
    budget = [r for r in rows if r.get("kind") == "budget"]
    probes = {}
    for r in rows:
        if r.get("kind") == "probe":
            probes[r["server"]] = r
    servers = list(dict.fromkeys(run.get("servers", []) +
                                 [r["server"] for r in rows if "server" in r]))
    servers = [s for s in servers if any(r.get("server") == s for r in rows)]
    # the anchor first, whatever --servers said: the ratios are imsd / Kamailio;
    # else the order of --servers (A/B: imsd-b / imsd)
    servers.sort(key=lambda s: s != "kamailio")
    head = (f"### {run.get('date', '?')} — commit {run.get('commit', '?')}, "
            f"{run.get('cpu', '?')}, {run.get('ncpu', '?')} vCPU, {run.get('mem_gib', '?')} GiB, "
            f"Linux {run.get('kernel', '?')}, load {run.get('loadavg', 0):.1f} at start; "
            f"SIPp {run.get('sipp', '?')}, Kamailio {run.get('kamailio', '?')}")
    if run.get("quick"):
        head += " (quick smoke run)"
    if run.get("self_test"):
        head += " (harness self-test: the AKA side is selftest_aka.py, not imsd)"
    out = [head, ""]
    out.append(f"{run.get('users', '?'):,} users per server; each step {run.get('secs_per_step')} s "
               f"of offered load (at most 200,000 registrations); imsd timer_t1 "
               f"{run.get('imsd_t1')} s.")
    if run.get("rounds", 1) > 1:
        out[-1] += (f" Rate steps in {run['rounds']} interleaved rounds: each step on both "
                    "servers back to back, the server going first alternating from round to "
                    "round; CPU per registration is the median over the rounds (every round's "
                    "value in brackets), and the paired ratio is the median of the per-round "
                    "ratios.")
    elif run.get("rounds"):
        out[-1] += " Rate steps interleaved, one round: each step on both servers back to back."
    else:
        out[-1] += " All steps of one server, then all steps of the other (one round)."
    out.append("")
    for s in servers:
        p = probes.get(s)
        if p:
            out.append(f"- probe {s}: {'OK' if p['ok'] else 'FAILED'}: {p['message']}")
            if any(x.startswith("imsd-b") for x in servers) and p.get("desc"):
                out[-1] += f" ({p['desc']})"
    out.append("")
    out.append("**Summary**")
    out.append("")
    _, per_mem, per_heap = mem_rows(mems)
    out += summary(run, main_steps, per_mem, per_heap, probes, servers, budget)
    out.append("")
    if len(servers) == 2 and main_steps:
        out.append("**Side by side** (one registration = REGISTER, 401, REGISTER, 200; CPU of the "
                   "server over the load window plus the expiry of its transaction state, "
                   "divided by completed registrations)")
        out.append("")
        out += side_by_side(main_steps, servers, bool(run.get("rounds")))
        out.append("")
        if run.get("rounds"):
            out.append("**CPU over the load window only** (without the expiry of the "
                       "transaction state after the load; median over the rounds, every "
                       "round's value in brackets)")
            out.append("")
            out += load_only(main_steps, servers)
            out.append("")
        if any(r.get("us_per_reg_kernel") is not None for r in main_steps):
            out.append("**User and kernel time** (the CPU per registration of the side-by-side "
                       "table split into the server's user time and its system time: the "
                       "kernel's UDP send and receive paths, loopback delivery to SIPp, epoll, "
                       "page faults; medians over the rounds)")
            out.append("")
            out += kernel_split(main_steps, servers)
            out.append("")
    if mems:
        out.append("**Memory** (fresh server; every user registered once, one binding; "
                   "sampled after the server's transaction state expired)")
        out.append("")
        out += mem_rows(mems)[0]
        out.append("")
    if steps:
        out.append("**All steps** (`mem0`/`mem1`: the memory phase, first registrations of "
                   "each half of the users; `rRATE_xN`: N SIPp UACs, mostly re-registrations; "
                   "round: the round, and whether the server went 1st or 2nd in it; idle peer: "
                   "the CPU of the other server, up but idle, during the load)")
        out.append("")
        out += detail(steps, servers)
        out.append("")
    return "\n".join(out)


def append_results(path, md):
    """Insert md at the end of SECTION in path (the section is created if absent)."""
    append_section(path, SECTION, md)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--append", default=None, help="RESULTS.md to add the report to")
    a = ap.parse_args()
    md = render(a.jsonl)
    print(md)
    if a.append:
        append_results(a.append, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
