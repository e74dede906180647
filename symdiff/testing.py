"""Gradient checking against central finite differences (public: check your own).

``check_grads`` compares symdiff's derivatives with an independent oracle: central
finite differences of the function's values along a random direction. For an
expression, the directional derivative ⟨vjp(u), v⟩ (reverse mode) must equal
d/dh ⟨u, y(x + h v)⟩ at h = 0, for a random cotangent u and direction v; with
``modes=("rev", "fwd")`` the forward mode ⟨u, jvp(v)⟩ is checked the same way.
``order=2`` repeats the check on the derivative itself (grad of grad). Values
are computed by the compiled function and checked against the reference
interpreter on the way.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import ArgumentTypeError, DiffError, SymdiffError
from .ir import Const, Node, Var, toposort
from .interpret import evaluate


def sample_input(domain: Any, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Random values inside an op's input domain (its entry's ``domain``): ``(lo, hi)``,
    ``"nonzero"`` (away from 0, both signs), ``"bool"``, ``"invertible"`` (square
    matrices near ``2 I``), ``"spd"`` (symmetric positive definite), ``"separated"``
    (matrices with singular values k, k-1, ..., 1: well apart, none zero); anything else
    (-2, 2)."""
    if domain == "bool":
        return rng.random(shape) > 0.5
    if domain == "invertible":     # (stacks of) square matrices, well conditioned
        n = shape[-1]
        return rng.uniform(-0.5, 0.5, size=shape) + 2.0 * np.eye(n)
    if domain == "spd":            # symmetric positive definite
        m = rng.uniform(-1.0, 1.0, size=shape)
        return m @ np.swapaxes(m, -1, -2) / shape[-1] + np.eye(shape[-1])
    if domain == "separated":      # random singular vectors, singular values k, ..., 1
        m, n = shape[-2:]
        k = min(m, n)
        q1 = np.linalg.qr(rng.standard_normal(shape[:-2] + (m, m)))[0][..., :k]
        q2 = np.linalg.qr(rng.standard_normal(shape[:-2] + (n, n)))[0][..., :k]
        return (q1 * np.arange(k, 0, -1.0)) @ np.swapaxes(q2, -1, -2)
    if domain == "nonzero":
        return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape)
    lo, hi = domain if isinstance(domain, tuple) else (-2.0, 2.0)
    return rng.uniform(lo, hi, size=shape)


def op_example(name: str, k: int, *, dynamic: bool = False, seed: int = 0,
               const_refs: bool = False) -> tuple[Node, list, dict]:
    """Case ``k`` of op ``name`` applied to fresh variables: (node, inputs, values).

    With ``dynamic``, lengths other than 1 are declared unknown. Inputs whose domain
    is ``"const"`` (shape references) become constants with ``const_refs``.
    """
    from .ir import make
    from .ops import OPS
    op = OPS[name]
    case = op.cases[k]
    rng = np.random.default_rng(seed + 7 * k)
    inputs, env = [], {}
    for i, shape in enumerate(case.shapes):
        domain = op.domain[i] if i < len(op.domain) else (-2.0, 2.0)
        value = sample_input(domain, shape, rng)
        if const_refs and domain == "const":
            inputs.append(Const(value))
            continue
        declared = tuple(d if d == 1 or not dynamic else None for d in shape)
        v = Var(f"in{i}", declared, value.dtype)
        inputs.append(v)
        env[v.name] = value
    return make(op, inputs, case.attrs), [i for i in inputs if isinstance(i, Var)], env


class GradientCheckError(SymdiffError, AssertionError):
    """A derivative disagrees with finite differences (or compiled with interpreted)."""


def check_grads(f: Node | Sequence[Node] | Callable, args: Mapping | Sequence,
                order: int = 1, *, modes: Sequence[str] = ("rev",), eps: float = 1e-5,
                rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0,
                argnums: int | Sequence[int] | None = None) -> None:
    """Raise ``GradientCheckError`` unless the derivatives of ``f`` match finite differences.

    ``f`` is an expression (or a list of them) with ``args`` a mapping from its
    variables (or their names) to values; or a NumPy-style Python function with
    ``args`` a sequence of arrays, differentiated by ``sd.grad(f, argnums)`` and
    compared with finite differences of ``f`` itself run on NumPy arrays (first
    order, reverse mode only: other ``order`` or ``modes`` are refused, never skipped).
    """
    rng = np.random.default_rng(seed)
    if isinstance(f, Node) or (isinstance(f, (list, tuple)) and f
                               and all(isinstance(o, Node) for o in f)):
        if argnums is not None:
            raise DiffError("check_grads: argnums is for Python functions; an expression's "
                            "variables are given by args")
        outputs = [f] if isinstance(f, Node) else list(f)
        env = {(k.name if isinstance(k, Var) else k): np.asarray(v, dtype=float)
               if np.asarray(v).dtype.kind in "iuf" else np.asarray(v)
               for k, v in args.items()}
        _check_expr(outputs, env, order, modes, eps, rtol, atol, rng)
        return
    if callable(f):
        if order != 1 or tuple(modes) != ("rev",):
            raise DiffError(f"check_grads of a Python function checks the first-order "
                            f"gradient only (order=1, modes=('rev',)), not order={order}, "
                            f"modes={tuple(modes)}; check the expression instead")
        _check_callable(f, list(args), argnums if argnums is not None else 0, eps, rtol, atol,
                        rng)
        return
    raise ArgumentTypeError(f"check_grads takes an expression or a Python function, not "
                            f"{type(f).__name__}")


def _diff_vars(outputs: list[Node], env: dict) -> list[Var]:
    from .ir import toposort
    found = {}
    for n in toposort(outputs):
        if isinstance(n, Var) and n.dtype.kind == "f":
            found[n.name] = n
    return [found[k] for k in sorted(found)]


def _check_expr(outputs, env, order, modes, eps, rtol, atol, rng) -> None:
    from .autodiff import jvp, vjp
    from .codegen import function
    wrt = _diff_vars(outputs, env)
    if not wrt:
        return
    inputs = list({v.name: v for v in _all_vars(outputs)}.values())
    compiled = function(inputs, outputs)
    got = compiled(**{v.name: env[v.name] for v in inputs})
    got = list(got)
    want = evaluate(outputs, env)
    for o, g, w in zip(outputs, got, want):
        _compare(g, w, o, env, f"compiled vs interpreted value of {_name(o)}")

    us = [rng.standard_normal(tuple(np.shape(w))) for w in want]
    vs = {v.name: rng.standard_normal(np.shape(env[v.name])) for v in wrt}

    def phi(h: float) -> float:
        moved = dict(env)
        for v in wrt:
            moved[v.name] = env[v.name] + h * vs[v.name]
        vals = evaluate(outputs, moved)
        return sum(float(np.sum(u * np.asarray(val, dtype=float))) for u, val in zip(us, vals))

    numeric = _derivative_at_0(phi, eps)
    cts = [Const(u, o.dtype) for u, o in zip(us, outputs)]
    tangents = [Const(vs[v.name], v.dtype) for v in wrt]
    for mode in modes:
        if mode == "rev":
            grads = vjp(outputs, wrt, cts)
            fn = function(inputs, grads)
            values = fn(**{v.name: env[v.name] for v in inputs})
            ref = evaluate(grads, env)
            for gv, rv, gn in zip(values, ref, grads):
                _compare(gv, rv, gn, env, f"compiled vs interpreted VJP of {_names(outputs)}")
            analytic = sum(float(np.sum(np.asarray(gv) * vs[v.name]))
                           for gv, v in zip(values, wrt))
        elif mode == "fwd":
            ts = jvp(outputs, wrt, tangents)
            ts = [ts] if isinstance(ts, Node) else ts
            values = evaluate(ts, env)
            analytic = sum(float(np.sum(u * np.asarray(t))) for u, t in zip(us, values))
        else:
            raise ValueError(f"unknown mode {mode!r}")
        scale = max(1.0, abs(numeric))
        if not abs(analytic - numeric) <= atol + rtol * scale:
            raise GradientCheckError(
                f"{mode} derivative of {_names(outputs)} disagrees with finite differences: "
                f"{analytic!r} vs {numeric!r} (difference {abs(analytic - numeric):.3g})")
    if order > 1:
        grads = vjp(outputs, wrt, cts)
        _check_expr(list(grads), env, order - 1, modes, eps, rtol * 10, atol * 10, rng)


def _all_vars(outputs):
    return [n for n in toposort(outputs) if isinstance(n, Var)]


def _check_callable(fn, args, argnums, eps, rtol, atol, rng) -> None:
    from .api import grad
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    args = [np.asarray(a, dtype=float) for a in args]
    g = grad(fn, argnums=argnums)(*args)
    g = (g,) if isinstance(argnums, int) else tuple(g)
    vs = [rng.standard_normal(np.shape(args[i])) for i in nums]

    def phi(h):
        moved = list(args)
        for i, v in zip(nums, vs):
            moved[i] = args[i] + h * v
        return float(fn(*moved))

    numeric = _derivative_at_0(phi, eps)
    analytic = sum(float(np.sum(np.asarray(gi) * v)) for gi, v in zip(g, vs))
    if not abs(analytic - numeric) <= atol + rtol * max(1.0, abs(numeric)):
        raise GradientCheckError(f"gradient of {getattr(fn, '__name__', fn)} disagrees with "
                                 f"finite differences: {analytic!r} vs {numeric!r}")


def _derivative_at_0(phi: Callable[[float], float], eps: float) -> float:
    """phi'(0) by central differences with steps eps and 2 eps, combined by Richardson
    extrapolation (error O(eps**4))."""
    d1 = (phi(eps) - phi(-eps)) / (2 * eps)
    d2 = (phi(2 * eps) - phi(-2 * eps)) / (4 * eps)
    return (4 * d1 - d2) / 3


def _compare(got, want, node, env, what) -> None:
    """Compiled values against the interpreter on the graph as written; where that is
    not finite, against the interpreted simplified graph, which is what was compiled
    (simplification may remove a nan or inf: the NaN-safe ``where``)."""
    if not np.all(np.isfinite(want)):
        from .rewrite import simplify
        want = evaluate(simplify(node), env)
    _close(got, want, 1e-9, 1e-12, what)


def _close(got, want, rtol, atol, what) -> None:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        raise GradientCheckError(f"{what}: shape {got.shape} vs {want.shape}")
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        err = np.max(np.abs(got - want))
        raise GradientCheckError(f"{what}: max difference {err:.3g}")


def _name(node: Node) -> str:
    from .printing import to_text
    text = to_text(node)
    return text if len(text) < 80 else text[:77] + "..."


def _names(nodes) -> str:
    return ", ".join(_name(n) for n in nodes)
