"""The polish of the command line's scalar derivatives: the shortest exact form of
symdiff's simplified text, found by symdiff's own algebra, with SymPy's ``simplify``
only for what that algebra cannot read.

Conventions
- Only expressions over scalars are polished. ``symdiff.rewrite.polish_rules`` reads
  one into sums and products and prints its shortest form (common factors, one
  denominator, double angles, ...); the form is taken only if ``sd.parse`` reads it
  back to the same values (relative 1e-12) at points of both signs. This costs a
  few milliseconds and needs no SymPy: the same text on every call.
- SymPy is imported only for an expression that algebra cannot read (too many
  terms when multiplied out), of at most ``POLISH_MAX_OPS`` operations. Its import
  and ``simplify`` take about 0.5 s, so that result is kept on disk under
  ``$SYMDIFF_CACHE_DIR/polish`` (default ``~/.cache/symdiff``), keyed by symdiff's
  text and version; a kept result is checked again (by symdiff alone) before it is
  used, and any trouble with the cache only means SymPy runs.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from .ir import Node, make, toposort

POLISH_MAX_OPS = 60   # larger expressions are printed as symdiff simplified them
CACHE_FORMAT = "3"    # raised when what the polish prints changes


def polish(e: Node) -> str:
    """The shortest text for scalar ``e`` that reads back to the same values."""
    text = str(e)
    if e.shape != () or any(v.ndim for v in e.vars.values()):
        return text
    operations = sum(1 for n in toposort([e]) if n.op.name not in ("var", "const"))
    if operations <= 1:
        return text           # nothing to shorten
    from .rewrite.polish_rules import cost, polish_node
    shortest = polish_node(e)
    if shortest is not None:
        if any(n.dtype.kind == "b" for n in toposort([e])):
            # Without the terms that make it exact at a zero base, if that changes
            # no value there either (x**x: yes; x**y: no).
            bare = polish_node(e, drop_indicators=True)
            if bare is not None and cost(bare) < cost(shortest) and _same_values(
                    e, str(bare), zeros=True):
                return str(bare)
        own = str(shortest)
        return own if own == text or _same_values(e, own) else text
    if operations > POLISH_MAX_OPS:
        return text
    path = _cache_path(text)
    kept = _read(path)
    if kept is not None and (kept == text or _same_values(e, kept)):
        return kept
    result = _sympy_polish(e, text)
    _write(path, result)
    return result


def doubled(e: Node) -> Node:
    """``e`` with every ``a + a`` written ``2*a``: the same numbers bit for bit (doubling
    is exact in floating point, inf, nan and -0.0 included), and the form a reader
    expects. Only for printing: generated code keeps the simplifier's ``a + a``."""
    from .rewrite.memo import Memo
    memo = Memo()
    new: dict[int, Node] = {}
    for node in toposort([e]):
        inputs = [new[i.id] for i in node.inputs]
        if (node.op.name == "add" and node.inputs[0] is node.inputs[1]
                and node.dtype.kind == "f"):
            new[node.id] = memo.multiply(memo.constant(2.0, node), inputs[0])
        elif any(a is not b for a, b in zip(inputs, node.inputs)):
            new[node.id] = make(node.op, inputs, node.attrs)
        else:
            new[node.id] = node
    return new[e.id]


def _sympy_polish(e: Node, text: str) -> str:
    try:
        import sympy
        from .sympy_bridge import to_sympy
        mine = sympy.sympify(text, locals=_sympy_names(e))
        ours = sympy.count_ops(mine)
        if ours <= 1 or ours > POLISH_MAX_OPS:
            return text
        candidate = sympy.simplify(to_sympy(e))
        if sympy.count_ops(candidate) >= ours:
            return text
        polished = _full_precision(candidate)
        return polished if _same_values(e, polished) else text
    except Exception:   # any SymPy failure leaves symdiff's own text
        return text


def _cache_path(text: str) -> Path | None:
    root = os.environ.get("SYMDIFF_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "symdiff")
    key = hashlib.sha256(f"{__version__}\n{CACHE_FORMAT}\n{text}".encode()).hexdigest()
    return Path(root) / "polish" / key[:2] / key


def _read(path: Path | None) -> str | None:
    try:
        return path.read_text(encoding="utf-8") if path is not None else None
    except (OSError, UnicodeDecodeError):
        return None


def _write(path: Path | None, text: str) -> None:
    if path is None:
        return
    try:   # written whole, then renamed: a reader never sees half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                         delete=False) as f:
            f.write(text)
        os.replace(f.name, path)
    except OSError:
        pass


def _full_precision(candidate) -> str:
    """SymPy's text with every float at full precision (SymPy prints 15 digits, which
    would not read back to the same float64)."""
    import sympy
    floats = {f: (1 if f > 0 else -1) * sympy.Symbol(repr(abs(float(f))))
              for f in candidate.atoms(sympy.Float)}
    return sympy.sstr(candidate.xreplace(floats))


def _sympy_names(e: Node) -> dict:
    import sympy
    from .sympy_bridge import sympy_names
    return {**sympy_names(), **{name: sympy.Symbol(name) for name in e.vars}}


def _same_values(e: Node, text: str, zeros: bool = False) -> bool:
    """``text`` computes what ``e`` computes (within 1e-12) at six points, wherever ``e``
    is finite there; with ``zeros``, also at every point whose coordinates are
    0.0, -0.0, 0.5, -0.5 or 1.5 (at most three variables)."""
    import symdiff as sd
    try:
        other = sd.parse(text, **{n: () for n in e.vars})
    except Exception:
        return False
    rng = np.random.default_rng(0)
    points = [{n: rng.uniform(0.3, 1.7) * (rng.choice([-1, 1]) if k >= 3 else 1)
               for n in e.vars} for k in range(6)]   # positive, then any signs
    if zeros:
        if len(e.vars) > 3:
            return False
        import itertools
        grid = itertools.product([0.0, -0.0, 0.5, -0.5, 1.5], repeat=len(e.vars))
        points += [dict(zip(e.vars, p)) for p in grid]
    with np.errstate(all="ignore"):
        return _agree(e, other, points)


def _agree(e: Node, other, points: list) -> bool:
    import symdiff as sd
    for env in points:
        a = float(sd.evaluate(e, env))
        b = float(sd.evaluate(other, {n: v for n, v in env.items()
                                      if isinstance(other, sd.Node) and n in other.vars})
                  if isinstance(other, sd.Node) else other)
        if np.isfinite(a) and not np.isclose(a, b, rtol=1e-12, atol=1e-15):
            return False
    return True
