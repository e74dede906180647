"""Wall time of the ``symdiff`` command on every expression of the CLI corpus.

    python -m bench.cli_time [--root DIR ...] [--repeats N]

Each expression runs in a fresh process (``python -m symdiff EXPR``), the way a user
runs it, with an empty polish cache (``$SYMDIFF_CACHE_DIR`` a new directory for every
run), so a result kept on disk by an earlier call never answers. Compiled modules are
kept in a private ``PYTHONPYCACHEPREFIX`` and one warm-up run fills it and the OS file
cache. ``--root`` times another checkout (its code on ``PYTHONPATH``); given twice (a
before and an after), the two run alternately, expression by expression, so a change
in the machine's load falls on both. Reported: every expression's best wall time of
``--repeats`` runs, the median, the maximum, the count over 0.3 s, the machine's
load, and the readability of the printed derivatives against ``sympy.simplify``
(see ``readability``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_S = 0.3


def corpus() -> list[str]:
    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    from cli_corpus import CORPUS
    return [text for text, _ in CORPUS]


def wall(text: str | None, root: str, pycache: str) -> tuple[float, str]:
    """Seconds for one fresh ``symdiff TEXT``, with an empty cache directory (no TEXT:
    for ``import symdiff.cli`` alone, the floor under every call)."""
    with tempfile.TemporaryDirectory(prefix="symdiff-cli-time-") as cache:
        env = dict(os.environ, SYMDIFF_CACHE_DIR=cache, PYTHONPATH=root,
                   PYTHONPYCACHEPREFIX=pycache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        command = ["-m", "symdiff", text] if text is not None else ["-c", "import symdiff.cli"]
        start = time.perf_counter()
        out = subprocess.run([sys.executable, *command], env=env, cwd=root,
                             capture_output=True, text=True, timeout=60)
        seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"symdiff {text!r} failed: {out.stderr.strip()}")
    return seconds, out.stdout.strip()


def readability(printed: dict[str, str], root: str) -> str:
    """The operations (``sympy.count_ops``) of each printed derivative over those of
    ``sympy.simplify`` of SymPy's derivative: median, max, how many above 1; plain,
    and with the zero-base indicator terms read as 0 (the allowance of tests/test_cli.py)."""
    import numpy as np
    import sympy
    from symdiff.sympy_bridge import sympy_names
    symbols = {n: sympy.Symbol(n, real=True) for n in "xy"}
    read = {**sympy_names(), **symbols}
    names = {"sigmoid": lambda z: 1 / (1 + sympy.exp(-z)), "arcsin": sympy.asin,
             "arccos": sympy.acos, "arctan": sympy.atan, **symbols}
    plain, allowed = [], []
    for text, out in printed.items():
        expr = sympy.sympify(text.replace("^", "**"), locals=names)
        wrt = sorted(str(s) for s in expr.free_symbols)
        lines = out.splitlines()
        got = {wrt[0]: lines[0]} if len(wrt) == 1 else dict(x.split(": ", 1) for x in lines)
        for name in wrt:
            best = max(sympy.count_ops(sympy.simplify(sympy.diff(expr, symbols[name]))), 1)
            mine = sympy.sympify(got[name], locals=read)
            plain.append(sympy.count_ops(mine) / best)
            indicators = {p: 0 for p in mine.atoms(sympy.Piecewise) if len(p.args) == 2
                          and p.args[0].expr.is_number and float(p.args[0].expr) == 1
                          and p.args[1].expr.is_number and float(p.args[1].expr) == 0}
            allowed.append(sympy.count_ops(mine.xreplace(indicators)) / best)
    return "\n".join(
        f"readability {root} ({how}): median {np.median(r):.3f}, max {max(r):.2f}, "
        f"{sum(v > 1 for v in r)} of {len(r)} longer than SymPy's"
        for how, r in (("plain count_ops", plain), ("indicators as 0", allowed)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", action="append",
                        help="checkout whose symdiff is timed (default: this one); repeatable")
    parser.add_argument("--repeats", type=int, default=3, help="runs per expression (best)")
    args = parser.parse_args(argv)
    roots = [os.path.abspath(r) for r in (args.root or [os.path.dirname(HERE)])]
    pycache = os.path.join(tempfile.gettempdir(), "symdiff-cli-time-pyc")
    texts = corpus()
    for root in roots:
        wall(texts[0], root, pycache)         # compiled modules, OS file cache
    load_start = os.getloadavg()
    best: dict[tuple, float] = {}
    printed: dict[tuple, str] = {}
    for _ in range(args.repeats):             # rounds over the corpus: noise spreads out
        for text in [None] + texts:
            for root in roots:
                seconds, out = wall(text, root, pycache)
                k = (root, text)
                best[k] = min(best.get(k, seconds), seconds)
                if printed.setdefault(k, out) != out:   # the same text on every call
                    raise RuntimeError(f"symdiff {text!r} printed {printed[k]!r}, then {out!r}")
    for text in texts:
        cells = "".join(f"{best[(root, text)]:7.3f} s" for root in roots)
        last = printed[(roots[-1], text)].replace("\n", "; ")
        print(f"{cells}  {text:26s} {last[:64]}")
    for root in roots:
        print(f"\nroot {root}: python -c 'import symdiff.cli' {best[(root, None)]:.3f} s")
    for root in roots:
        times = [best[(root, text)] for text in texts]
        print(f"\nroot {root}: {len(times)} expressions, best of {args.repeats}, empty cache; "
              f"median {statistics.median(times):.3f} s, max {max(times):.3f} s, "
              f"{sum(t > TARGET_S for t in times)} over {TARGET_S} s")
    for root in roots:
        print(readability({text: printed[(root, text)] for text in texts}, root))
    print(f"load average {load_start[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
          f"({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
