"""Turning the results dict into markdown: the ratio table, absolute times, notes.

A ratio is (contender time per call) / (hand-written NumPy time per call), so
below 1 is faster than the hand-written code. Cells that are not numbers point
to a numbered note with the reason ("n/a [2]", "FAIL [3]").
"""

from . import extras
from .contenders import PEERS

RATIO_COLUMNS = ("symdiff", "symdiff_numba", *PEERS)


class Notes:
    """Numbered, de-duplicated notes."""

    def __init__(self):
        self.texts = []

    def ref(self, text):
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def lines(self):
        return [f"[{i}] {text}" for i, text in enumerate(self.texts, 1)]


def fmt_ratio(r):
    if r < 10:
        return f"{r:.2f}"
    if r < 100:
        return f"{r:.1f}"
    return f"{r:.0f}"


def fmt_us(seconds):
    us = seconds * 1e6
    return f"{us:.2f}" if us < 10 else f"{us:.1f}" if us < 1000 else f"{us:,.0f}"


def fmt_ms(seconds):
    ms = seconds * 1e3
    return f"{ms:.1f}" if ms < 100 else f"{ms:,.0f}"


def fmt_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _status_cell(entry, notes, who, workload):
    status = entry.get("status", "n/a")
    reason = entry.get("error") or status
    if status == "FAIL":
        return f"**FAIL** {notes.ref(f'{who} on {workload}: {reason}')}"
    return f"n/a {notes.ref(f'{who}: {reason}')}"


def _cell_ratio(entry, hand_s, notes, who, workload):
    if not entry:
        return "-"  # not run (left out with --contenders)
    if entry.get("status") == "ok" and "per_call_s" in entry and hand_s:
        return fmt_ratio(entry["per_call_s"] / hand_s)
    return _status_cell(entry, notes, who, workload)


def _target_cell(target, value, unit=""):
    if target is None:
        return "-"
    text = f"≤ {target:g}{unit}" if unit else f"≤ {target:.1f}"
    if value is None:
        return text
    return f"{text} met" if value <= target else f"{text} **missed**"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def ratio_table(results, notes):
    header = [
        "workload", "hand NumPy (µs)", "symdiff ratio", "target", "symdiff numba",
        "autograd", "jax", "pytensor", "torch", "symdiff first call (ms)",
        "first-call target", "numba first call (ms)", "peak mem symdiff / numpy",
    ]
    rows = []
    for name, w in results["workloads"].items():
        entries = w["contenders"]
        hand = entries.get("hand", {})
        hand_s = hand.get("per_call_s")
        hand_cell = fmt_us(hand_s) if hand_s else _status_cell(hand, notes, "hand", name)
        cells = {c: _cell_ratio(entries.get(c, {}), hand_s, notes, c, name) for c in RATIO_COLUMNS}
        sd = entries.get("symdiff", {})
        sd_ok = sd.get("status") == "ok" and hand_s and "per_call_s" in sd
        ratio = sd["per_call_s"] / hand_s if sd_ok else None
        first = sd.get("first_call_s") if sd.get("status") == "ok" else None
        first_ms = first * 1e3 if first is not None else None
        peak = "-"
        if sd.get("peak_bytes") and hand.get("peak_bytes"):
            peak = fmt_ratio(sd["peak_bytes"] / hand["peak_bytes"])
        first_cell = fmt_ms(first) if first is not None else "-"
        first_target = _target_cell(w.get("first_call_target_ms"), first_ms, " ms")
        if sd.get("first_call_cached_from"):
            cached = notes.ref(
                f"symdiff on {name}: same graph and input types as "
                f"{sd['first_call_cached_from']}, so sd.function returned the cached "
                "function: this first call includes no compilation"
            )
            first_cell += f" (cached) {cached}"
            first_target = first_target.replace(" met", "").replace(" **missed**", "")
        nb = entries.get("symdiff_numba", {})
        nb_first = nb.get("first_call_s") if nb.get("status") == "ok" else None
        rows.append([
            name, hand_cell, cells["symdiff"], _target_cell(w.get("target"), ratio),
            cells["symdiff_numba"], cells["autograd"], cells["jax"], cells["pytensor"],
            cells["torch"], first_cell, first_target,
            fmt_ms(nb_first) if nb_first is not None else "-", peak,
        ])
    return table(header, rows)


def absolute_table(results):
    names = ("hand", *RATIO_COLUMNS)
    header = ["workload"] + [f"{n} (µs)" for n in names] + [
        "peak mem hand", "peak mem symdiff", "symdiff kept between calls"]
    rows = []
    for name, w in results["workloads"].items():
        entries = w["contenders"]
        row = [name]
        for n in names:
            e = entries.get(n, {})
            row.append(fmt_us(e["per_call_s"]) if "per_call_s" in e else e.get("status", "n/a"))
        for n in ("hand", "symdiff"):
            e = entries.get(n, {})
            row.append(fmt_bytes(e["peak_bytes"]) if e.get("peak_bytes") else "-")
        kept = entries.get("symdiff", {}).get("kept_bytes")
        row.append(fmt_bytes(kept) if kept else "-")
        rows.append(row)
    return table(header, rows)


def first_call_table(results):
    names = RATIO_COLUMNS
    header = ["workload"] + [f"{n} (ms)" for n in names]
    rows = []
    for name, w in results["workloads"].items():
        entries = w["contenders"]
        row = [name]
        for n in names:
            e = entries.get(n, {})
            ok = e.get("first_call_s") is not None and e.get("status") != "n/a"
            cell = fmt_ms(e["first_call_s"]) if ok else e.get("status", "n/a")
            if ok and e.get("first_call_cached_from"):
                cell += f" (cached, as {e['first_call_cached_from']})"
            row.append(cell)
        rows.append(row)
    return table(header, rows)


CHAIN_TEXT = {
    "euler": "N // 3 Euler steps y <- y + 0.01*sin(y) (value and derivative checked)",
    "product": "sin, exp, *0.5 in turn: the derivative is a product of N factors "
               "(value checked; the derivative underflows float64)",
}


def scaling_lines(scaling):
    if not scaling:
        return []
    lines = [
        "## compile_scaling",
        "",
        "Chains of N scalar elementwise ops on one scalar, value and derivative, each",
        "measurement in a fresh interpreter. Seconds per phase.",
        "",
    ]
    if "error" in scaling:
        return lines + [f"n/a: {scaling['error']}", ""]
    rows, summaries, notes = [], [], []
    for chain, result in scaling.items():
        sizes = [str(n) for n in result.get("sizes", ())]
        for size in sizes:
            r = result.get(size, {})
            if "error" in r:
                rows.append([chain, size, f"n/a: {r['error']}", "", "", "", "", ""])
                continue
            rows.append([
                chain, size, f"{r['build_s']:.3f}", f"{r['grad_s']:.3f}",
                f"{r['compile_s']:.3f}", f"{r['first_call_s'] * 1e3:.2f} ms",
                f"{r['total_s']:.3f}", "yes" if r.get("agrees") else "**NO (FAIL)**",
            ])
            if r.get("recursion_limit"):
                notes.append(
                    f"{chain} N={size} needed sys.setrecursionlimit({r['recursion_limit']});"
                    f" with the default limit: {r['default_limit_error']}"
                )
        ratios = [
            f"{label} {result[key]:.1f}x"
            for key, label in (("ratio_grad_s", "sd.grad"), ("ratio_compile_s", "sd.function"),
                               ("ratio_total_s", "total"))
            if key in result
        ]
        if ratios and len(sizes) == 2:
            summaries.append(f"{chain}: {CHAIN_TEXT.get(chain, chain)}; "
                            f"{int(sizes[1]):,} / {int(sizes[0]):,}: " + ", ".join(ratios)
                            + " (linear: ~10x).")
    lines += table(
        ["chain", "N ops", "build graph", "sd.grad", "sd.function", "first call", "total",
         "agrees"],
        rows,
    )
    return lines + [""] + [f"- {note}" for note in summaries + notes] + [""]


def newton_lines(newton):
    if not newton:
        return []
    lines = ["## newton", "", f"L2-regularized logistic regression, {newton['problem']}.", ""]
    if "error" in newton:
        return lines + [f"n/a: {newton['error']}", ""]
    hand = newton["hand"]
    lines.append(
        f"- hand-written derivatives: {hand['iterations']} iterations, "
        f"{hand['seconds'] * 1e3:.1f} ms (median of 5 solves), "
        f"final loss {hand['final_loss']:.12f}"
    )
    sd = newton.get("symdiff", {})
    if "error" in sd:
        lines.append(f"- symdiff: n/a ({sd['error']})")
    else:
        lines.append(
            f"- symdiff (sd.grad + sd.hessian): {sd['iterations']} iterations, "
            f"{sd['seconds'] * 1e3:.1f} ms (median of 5 solves), "
            f"compile {sd['compile_s'] * 1e3:.0f} ms, final loss {sd['final_loss']:.12f}, "
            "same minimizer: " + ("yes" if sd["agrees_with_hand"] else "**NO (FAIL)**")
        )
    return lines + [""]


def _loads(loads):
    return "?" if not loads else ", ".join(f"{x:.2f}" for x in loads)


def _busy(machine):
    """More runnable work than one core besides this run, at start or end."""
    loads = [machine.get("load_average"), machine.get("load_average_end")]
    return any(load and load[0] > 1.5 for load in loads)


def machine_lines(results):
    m = results["machine"]
    s = results["settings"]
    versions = ", ".join(f"{k} {v or 'not installed'}" for k, v in m["versions"].items())
    lines = [
        f"- date: {m['date_utc']}; commit {m.get('git_commit') or '?'}",
        f"- CPU: {m['cpu']}; {m['cores']} cores; the run was pinned to CPU "
        f"{m['pinned_to_cpus']}",
        f"- load average (1, 5, 15 min) at start {_loads(m.get('load_average'))}, at end "
        f"{_loads(m.get('load_average_end'))}"
        + (" -- **the machine was busy**: absolute times are inflated, ratios less so "
           "(contenders interleaved)" if _busy(m) else ""),
        f"- Python {m['python']} on {m['platform']}; NumPy {m['numpy']}, BLAS "
        f"{m.get('numpy_blas', '?')}",
    ]
    for pool in m.get("threadpools", []):
        lines.append(
            f"- threadpool: {pool['internal_api']} {pool['version']} ({pool['architecture']}), "
            f"{pool['num_threads']} thread(s)"
        )
    lines += [
        f"- versions: {versions}",
        f"- threads: {m['thread_env']}",
        f"- timing: median of {s['repeats']} repeats, each >= {s['min_time_s']} s "
        f"(autorange), contenders of a workload interleaved; "
        + ("**quick run**" if s["quick"] else "full run"),
    ]
    for name, c in results["contenders"].items():
        if c.get("notes"):
            lines.append(f"- {name}: {'; '.join(c['notes'])}")
    return lines


def markdown(results):
    notes = Notes()
    ratios = ratio_table(results, notes)
    lines = [
        "# Benchmark results",
        "",
        "Generated by `python -m bench`; do not edit by hand. Ratio = time per call / "
        "hand-written NumPy time per call (lower is better; below 1 beats the hand-written "
        "code). The deep_scalar reference is a dual-number loop on Python floats. Every "
        "contender's outputs were checked against the reference with np.allclose before "
        "timing; a mismatch shows as FAIL and is not timed.",
        "",
        "## Machine",
        "",
        *machine_lines(results),
        "",
        "## Ratios to hand-written NumPy",
        "",
        *ratios,
        "",
        "## Per-call time (µs, median) and peak memory of one call (tracemalloc)",
        "",
        *absolute_table(results),
        "",
        "## First call (ms): build graph + gradient + compile + first call",
        "",
        *first_call_table(results),
        "",
        *scaling_lines(results.get("compile_scaling")),
        *newton_lines(results.get("newton")),
        *extras.hvp_lines(results.get("hvp")),
        *extras.optimize_lines(results.get("optimize")),
    ]
    if notes.texts:
        lines += ["## Notes", "", *notes.lines(), ""]
    return "\n".join(lines)


def summary(results):
    """The part printed at the end of a run: ratio table and notes."""
    notes = Notes()
    lines = ratio_table(results, notes)
    lines += ["", *scaling_lines(results.get("compile_scaling")), *notes.lines()]
    return "\n".join(lines)
