"""Command line and the run loop. Imported by bench/__main__.py after the thread limits.

For each workload: make the inputs, compute the hand-written reference, build
every available contender (timed as its first call), check its outputs against
the reference -- and again after a second call, since outputs returned to the
user must not be overwritten by a later call -- then time the contenders that
agree, interleaved, and measure peak memory of the hand-written and the symdiff
call. A contender that cannot be built is "n/a" with the reason; one that
disagrees is "FAIL". Nothing a contender does stops the run.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time

import numpy as np

from . import harness, report, scaling
from .contenders import NAMES, load_contenders
from .workloads import BY_NAME, WORKLOADS

HERE = os.path.dirname(os.path.abspath(__file__))
EXTRAS = ("compile_scaling", "newton", "hvp", "optimize")
FULL = {"repeats": 15, "min_time_s": 0.1}
QUICK = {"repeats": 3, "min_time_s": 0.02}
COMPILED = {}  # id(symdiff Function) -> (first workload that compiled it, the Function)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="symdiff vs hand-written NumPy and peers."
    )
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats (smoke run)")
    parser.add_argument(
        "--only", metavar="NAME[,NAME...]",
        help="workloads to run: names or prefixes (deep_scalar), compile_scaling, newton, "
        "hvp, optimize",
    )
    parser.add_argument(
        "--contenders", metavar="NAME[,NAME...]", default=",".join(NAMES),
        help=f"subset of {','.join(NAMES)} (hand is always run)",
    )
    parser.add_argument(
        "--static-shapes", action="store_true",
        help="declare the lengths of every symdiff input (default: only where needed)",
    )
    parser.add_argument(
        "--source", action="store_true", help="print symdiff's generated source per workload"
    )
    parser.add_argument(
        "--profile", action="store_true",
        help="cProfile 1,000 symdiff calls per workload and print the top entries",
    )
    parser.add_argument(
        "--lines", action="store_true",
        help="estimate the cost of each statement of symdiff's and the hand-written code",
    )
    parser.add_argument(
        "--write", action=argparse.BooleanOptionalAction, default=None,
        help="write bench/RESULTS.md (default: only for a full run of everything, all contenders)",
    )
    args = parser.parse_args(argv)
    known = [w.name for w in WORKLOADS] + list(EXTRAS)
    if args.only:
        selected = []
        for item in args.only.split(","):
            matches = [name for name in known if name == item or name.startswith(item)]
            if not matches:
                parser.error(f"unknown workload {item!r}; known: {', '.join(known)}")
            selected += [m for m in matches if m not in selected]
        args.selected = selected
    else:
        args.selected = known
    args.contender_names = ["hand"] + [
        n for n in args.contenders.split(",") if n in NAMES and n != "hand"
    ]
    if args.write is None:
        everything = len(args.contender_names) == len(NAMES)
        args.write = not args.only and not args.quick and everything
    return args


def check(entry, built, result, reference, workload):
    """Set entry status from the first result and from a second call; return ok."""
    call, to_numpy, _ = built
    reason = harness.compare(to_numpy(result), reference, workload.rtol, workload.atol)
    if reason is None:
        call()
        reason = harness.compare(to_numpy(result), reference, workload.rtol, workload.atol)
        if reason is not None:
            reason = "an earlier result was overwritten by a later call: " + reason
    if reason is not None:
        entry.update(status="FAIL", error=reason)
        return False
    entry["status"] = "ok"
    return True


def known_values_error(workload, reference):
    for index, value in workload.known.items():
        if not np.allclose(reference[index], value, rtol=0, atol=1e-8):
            return f"reference output {index} is {reference[index]}, published {value}"
    return None


def profile_calls(call, n=1000, top=12):
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)


def print_line_costs(workload, inputs, function):
    from . import lines

    args = list(inputs.values())
    targets = [("hand-written", lambda: lines.python_costs(workload.hand, args))]
    if function is not None:
        targets.append(("symdiff", lambda: lines.symdiff_costs(function, args)))
    for title, measure in targets:
        try:
            costs, total = measure()
        except Exception as exc:
            print(f"-- {title}: no statement costs ({harness.short_error(exc)})")
            continue
        lines.print_costs(f"{workload.name}, {title}", costs, total)


def run_workload(workload, contenders, settings, args):
    print(f"== {workload.name}: {workload.summary}", flush=True)
    inputs = workload.make_inputs()
    reference = [np.asarray(r) for r in workload.hand(*inputs.values())]
    record = {
        "summary": workload.summary,
        "reference": workload.reference_label,
        "target": workload.target,
        "first_call_target_ms": workload.first_call_target_ms,
        "contenders": {},
    }
    bad_reference = known_values_error(workload, reference)
    if bad_reference:
        print(f"FAIL  hand-written reference disagrees with published values: {bad_reference}")
        record["reference_error"] = bad_reference
    calls, infos = {}, {}
    for name, contender in contenders.items():
        entry = record["contenders"].setdefault(name, {})
        if not contender.available:
            entry.update(status="n/a", error=contender.error)
            continue
        try:
            built, result, seconds = harness.first_call(
                lambda: contender.build(workload, inputs)
            )
        except Exception as exc:
            entry.update(status="n/a", error=harness.short_error(exc))
            print(f"  {name}: n/a ({entry['error']})", flush=True)
            continue
        entry["first_call_s"] = seconds
        try:
            ok = check(entry, built, result, reference, workload)
        except Exception as exc:
            entry.update(status="FAIL", error=harness.short_error(exc))
            ok = False
        if not ok:
            print(f"  FAIL  {name} on {workload.name}: {entry['error']}", flush=True)
            continue
        calls[name], infos[name] = built[0], built[2]
        function = built[2].get("function")
        if name == "symdiff_numba" and function is not None:
            # A cold first call ran the NumPy code while the kernels compiled on a
            # thread: time the compiled function; record how long it was still awaited.
            start = time.perf_counter()
            function.wait_compiled()
            entry["compile_wait_s"] = time.perf_counter() - start
            print(f"  {name}: compiled code awaited {entry['compile_wait_s']:.2f} s after "
                  f"the first call and its check", flush=True)
        if name == "symdiff" and function is not None:
            # Same graph and input types as an earlier workload: sd.function's cache
            # answered, so this first call measured no compilation.
            earlier = COMPILED.setdefault(id(function), (workload.name, function))[0]
            if earlier != workload.name:
                entry["first_call_cached_from"] = earlier
    timings = harness.time_interleaved(calls, settings["repeats"], settings["min_time_s"])
    hand_s = timings.get("hand", {}).get("per_call_s")
    for name, timing in timings.items():
        record["contenders"][name].update(timing)
        ratio = f"  ratio {timing['per_call_s'] / hand_s:7.2f}" if hand_s else ""
        first = record["contenders"][name].get("first_call_s", 0.0)
        print(
            f"  {name:9s} {timing['per_call_s'] * 1e6:12.2f} µs/call{ratio}"
            f"   first call {first * 1e3:9.1f} ms",
            flush=True,
        )
    function = infos.get("symdiff", {}).get("function")
    for name in ("hand", "symdiff"):
        if name in calls:
            record["contenders"][name]["peak_bytes"] = harness.peak_memory(calls[name])
            if name == "symdiff":   # held between calls: not in one call's trace
                record["contenders"][name]["kept_bytes"] = getattr(function, "kept_bytes", 0)
    if args.source and function is not None:
        print(getattr(function, "source", "(no .source)"))
    if args.profile and "symdiff" in calls:
        profile_calls(calls["symdiff"])
    if args.lines:
        print_line_costs(workload, inputs, function if "symdiff" in calls else None)
    return record


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = dict(QUICK if args.quick else FULL)
    contenders = load_contenders(args.contender_names)
    if args.static_shapes and contenders["symdiff"].available:
        contenders["symdiff"].static_shapes = True
    for name, c in contenders.items():
        state = f"version {c.version}" if c.available else f"n/a ({c.error})"
        print(f"{name:9s} {state}", flush=True)
    results = {
        "machine": harness.machine_facts(contenders),
        "settings": {
            **settings, "quick": args.quick, "only": args.only,
            "static_shapes": args.static_shapes,
        },
        "contenders": {
            name: {"available": c.available, "version": c.version, "error": c.error,
                   "notes": c.notes}
            for name, c in contenders.items()
        },
        "workloads": {},
    }
    for name in args.selected:
        if name in BY_NAME:
            results["workloads"][name] = run_workload(BY_NAME[name], contenders, settings, args)
    sd = contenders.get("symdiff")
    sd_module = sd.sd if sd is not None and sd.available else None
    if "compile_scaling" in args.selected:
        print("== compile_scaling", flush=True)
        if sd_module is None:
            results["compile_scaling"] = {"error": "symdiff is not available"}
        else:
            sizes = scaling.QUICK_SIZES if args.quick else scaling.SIZES
            results["compile_scaling"] = scaling.run(sizes, timeout=120 if args.quick else 300)
    if "newton" in args.selected:
        print("== newton", flush=True)
        results["newton"] = run_newton(sd_module)
    for extra in ("hvp", "optimize"):
        if extra in args.selected:
            print(f"== {extra}", flush=True)
            results[extra] = run_extra(extra, sd_module)
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_end"] = os.getloadavg()
    print()
    print(report.summary(results))
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    if args.write:
        with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
            f.write(report.markdown(results))
        print("\nwrote bench/RESULTS.md and bench/results.json")
    else:
        print("\nwrote bench/results.json (bench/RESULTS.md only for a full run, or --write)")
    failed = any(
        e.get("status") == "FAIL"
        for w in results["workloads"].values()
        for e in w["contenders"].values()
    )
    return 1 if failed else 0


def run_extra(name, sd_module):
    from . import extras

    if sd_module is None:
        return {"error": "symdiff is not available"}
    try:
        return getattr(extras, f"run_{name}")(sd_module)
    except Exception as exc:
        return {"error": harness.short_error(exc)}


def run_newton(sd_module):
    from . import newton

    try:
        return newton.run(sd_module)
    except Exception as exc:
        return {"problem": "?", "hand": {}, "error": harness.short_error(exc)}
