#!/usr/bin/env python3
"""Markdown report of a regbench.py run, and its insertion into bench/RESULTS.md.

  python3 regreport.py WORKDIR/results.jsonl              print the report
  python3 regreport.py WORKDIR/results.jsonl --append F   also add it to F
"""
import argparse
import json
import sys

SECTION = "## register — AKA registration vs Kamailio MD5 (bench/register/)"
CLEAN_FAIL_PCT = 0.1        # "< 0.1 % failures"
CLEAN_ACHIEVED = 0.97       # and achieved >= 97 % of offered
SIPP_SATURATED = 0.9        # cores of one UAC
TARGET_CPU_RATIO = 0.5      # imsd CPU per registration <= half of Kamailio's
TARGET_MEM_B = 512          # bytes per registered user with one binding
FOREIGN_MAX = 0.25          # cores used by other processes before a step is "disturbed"
LABEL = {"kamailio": "Kamailio (MD5)", "imsd": "imsd (AKAv1-MD5)",
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


def step_cell(r):
    if r is None:
        return ["not run", "-", "-"]
    sat = " (SIPp-bound)" if max(r["sipp_cores"] or [0]) >= SIPP_SATURATED else ""
    return [f"{fmt_int(r['achieved_rate'])}, {r['failed']} failed ({r['fail_pct']:.2f} %){sat}",
            rt_pair(r), fmt_int(r["us_per_reg"])]


def side_by_side(steps, servers):
    keys = sorted({(r["offered_rate"], r["sipp_instances"]) for r in steps})
    by = {(r["server"], r["offered_rate"], r["sipp_instances"]): r for r in steps}
    a, b = servers
    out = [f"| offered /s | SIPp UACs | {LABEL.get(a, a)}: achieved /s, failed | p50 / p95 ms "
           f"| CPU µs per registration | {LABEL.get(b, b)}: achieved /s, failed "
           f"| p50 / p95 ms | CPU µs per registration | {b} / {a} CPU |",
           "|---|---|---|---|---|---|---|---|---|"]
    for rate, inst in keys:
        ra, rb = by.get((a, rate, inst)), by.get((b, rate, inst))
        ratio = "-"
        if ra and rb and ra["us_per_reg"] and rb["us_per_reg"]:
            ratio = f"{rb['us_per_reg'] / ra['us_per_reg']:.2f}"
        out.append(f"| {rate:,} | {inst} | " + " | ".join(step_cell(ra)) + " | "
                   + " | ".join(step_cell(rb)) + f" | {ratio} |")
    return out


def detail(steps):
    out = ["| server | step | offered /s | UACs | registrations ok | failed (%) | retrans "
           "| achieved /s | p50 / p95 / p99 ms (whole) | p50 / p95 ms (401) | server cores "
           "| µs/reg (load + expiry) | µs/reg (load only) | SIPp cores per UAC "
           "| softirq / other cores |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in steps:
        out.append(
            f"| {r['server']} | {r['tag']} | {r['offered_rate']:,} | {r['sipp_instances']} "
            f"| {r['ok']:,} | {r['failed']} ({r['fail_pct']:.3f} %) | {r['retrans']} "
            f"| {fmt_int(r['achieved_rate'])} | {rt_triple(r)} | {rt_pair(r, '2')} "
            f"| {r['server_cores']:.2f} | {fmt_int(r['us_per_reg'])} "
            f"| {fmt_int(r['us_per_reg_load_only'])} "
            f"| {' + '.join(f'{c:.2f}' for c in r['sipp_cores'])} "
            f"| {r['softirq_cores']:.2f} / {r['foreign_cores']:.2f} |")
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


def best_clean(steps, server):
    ok = [r for r in steps if r["server"] == server and clean(r)]
    if not ok:
        return None
    return max(ok, key=lambda r: (r["offered_rate"], -r["sipp_instances"]))


def summary(run, steps, per_mem, per_heap, probes, servers):
    out = []
    for s in servers:
        b = best_clean(steps, s)
        if b:
            out.append(f"- **{LABEL.get(s, s)}**: highest offered rate with < {CLEAN_FAIL_PCT} % "
                       f"failures and ≥ {CLEAN_ACHIEVED:.0%} achieved: **{b['offered_rate']:,}/s** "
                       f"({b['sipp_instances']} SIPp UAC{'s' if b['sipp_instances'] > 1 else ''}, "
                       f"{fmt_int(b['us_per_reg'])} µs CPU per registration, p95 "
                       f"{rt_pair(b).split(' / ')[1]} ms)")
        elif s in probes and not probes[s]["ok"]:
            out.append(f"- **{LABEL.get(s, s)}**: not measured: {probes[s]['message']}")
        else:
            out.append(f"- **{LABEL.get(s, s)}**: no step with < {CLEAN_FAIL_PCT} % failures")
    if len(servers) == 2:
        a, b = servers
        by = {(r["server"], r["offered_rate"], r["sipp_instances"]): r for r in steps}
        ratios = []
        for (srv, rate, inst), r in sorted(by.items()):
            o = by.get((a, rate, inst))
            if srv == b and o and clean(r) and clean(o) and r["us_per_reg"] and o["us_per_reg"]:
                ratios.append((rate, inst, r["us_per_reg"] / o["us_per_reg"]))
        if ratios:
            worst = max(x[2] for x in ratios)
            txt = ", ".join(f"{q:.2f} at {rate:,}/s×{inst}" for rate, inst, q in ratios)
            met = "met" if worst <= TARGET_CPU_RATIO else "NOT met"
            out.append(f"- CPU per registration, {b} / {a} at the steps both ran cleanly: {txt}. "
                       f"Target ≤ {TARGET_CPU_RATIO}: **{met}**.")
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
    probes = {}
    for r in rows:
        if r.get("kind") == "probe":
            probes[r["server"]] = r
    servers = list(dict.fromkeys([r["server"] for r in rows if "server" in r]))
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
    out.append("")
    for s in servers:
        p = probes.get(s)
        if p:
            out.append(f"- probe {s}: {'OK' if p['ok'] else 'FAILED'}: {p['message']}")
    out.append("")
    out.append("**Summary**")
    out.append("")
    _, per_mem, per_heap = mem_rows(mems)
    out += summary(run, main_steps, per_mem, per_heap, probes, servers)
    out.append("")
    if len(servers) == 2 and main_steps:
        out.append("**Side by side** (one registration = REGISTER, 401, REGISTER, 200; CPU of the "
                   "server over the load window plus the expiry of its transaction state, "
                   "divided by completed registrations)")
        out.append("")
        out += side_by_side(main_steps, servers)
        out.append("")
    if mems:
        out.append("**Memory** (fresh server; every user registered once, one binding; "
                   "sampled after the server's transaction state expired)")
        out.append("")
        out += mem_rows(mems)[0]
        out.append("")
    if steps:
        out.append("**All steps** (`mem0`/`mem1`: the memory phase, first registrations of "
                   "each half of the users; `rRATE_xN`: N SIPp UACs, mostly re-registrations)")
        out.append("")
        out += detail(steps)
        out.append("")
    return "\n".join(out)


def append_results(path, md):
    """Insert md at the end of SECTION in path (the section is created if absent)."""
    with open(path) as f:
        lines = f.read().split("\n")
    try:
        start = lines.index(SECTION)
    except ValueError:
        if lines and lines[-1] == "":
            lines.pop()
        lines += ["", SECTION, ""]
        start = len(lines) - 2
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("## "):
            end = i
            break
    while end > start + 1 and lines[end - 1] == "":
        end -= 1
    block = [""] + md.rstrip("\n").split("\n") + [""]
    lines[end:end] = block
    text = "\n".join(lines)
    if not text.endswith("\n"):
        text += "\n"
    with open(path, "w") as f:
        f.write(text)


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
