"""The op record and the small helpers that declare ops as data.

An ``Op`` holds everything about one primitive: its NumPy implementation (used by
the reference interpreter, constant folding and the checker), its type rule, its
VJP and JVP rules written with IR ops (so derivatives are graph and can be
differentiated again), its NumPy code template, its printing, the sample
inputs the generic checker uses, and the algebraic properties the rewrites ask
about (``commutative``, ``see_through``...; ``symdiff.rewrite`` derives its
tables from them).

Rule signatures
- ``infer(inputs, attrs) -> (dtype, shape)``; raises ``ShapeError``.
- ``vjp(g, node) -> tuple`` of one adjoint per input, ``None`` where an input is
  not differentiable. An adjoint may have the broadcast shape of the output: the
  reverse-mode driver sums it back to the input's shape (in one place).
- ``jvp(tangents, node) -> tangent``; ``tangents`` has ``None`` for inputs whose
  tangent is zero (at least one is not ``None``).
- ``batch(args, batched, node) -> Node``: the node applied to inputs that may
  carry an extra leading batch axis (``batched[i]`` says which do; at least one
  does). The result has the batch axis first, or none when its value does not
  depend on the batch (``shape_size``). See ``symdiff.batching``.
- ``code(args, node) -> str``: a NumPy expression over the argument names;
  ``out(args, node, out) -> str`` the same call writing into buffer ``out``;
  ``block(out, args, node) -> str``: statements that compute the node into the new
  name ``out``, for ops that need more than one expression.
- ``helpers``: the run-time functions the code calls (``symdiff.runtime`` or next to
  the op), or ``node -> tuple`` of them; generated source imports them by name.
- ``portable``: the op written against the Array API namespace of the arguments
  (``symdiff.ops.portable.Portable``), for ``f.portable_source``.
- ``text(node, child) -> (str, precedence)`` and ``latex(node, child)``, where
  ``child(node, min_precedence)`` prints an input, parenthesised if needed; ``sympy``
  the op as a SymPy formula over its operands ``a, b, c``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ShapeError
from ..ir import Node, broadcast_shapes, fmt_shape
from .portable import Portable

# Printing precedences (Python's order).
P_CMP, P_ADD, P_MUL, P_NEG, P_POW, P_ATOM = 20, 30, 40, 50, 60, 100

OPS: dict[str, "Op"] = {}


@dataclass(frozen=True)
class Case:
    """A sample use of an op for the generic checker: input shapes and attributes."""
    shapes: tuple
    attrs: dict = field(default_factory=dict)


@dataclass(eq=False, frozen=True)
class Op:
    name: str
    impl: Callable
    infer: Callable
    code: Callable
    vjp: Callable | None = None
    jvp: Callable | None = None
    batch: Callable | None = None
    out: Callable | None = None
    text: Callable | None = None
    latex: Callable | None = None
    # The op on 0-d operands in SymPy's syntax, over the operands a, b, c ("asin(a)",
    # "a + b", "log(1 + exp(a))"; "a" where it is the identity on a 0-d operand), which
    # symdiff.sympy_bridge reads; None: no SymPy form.
    sympy: str | None = None
    symbol: str | None = None   # the label of its nodes in graph views (default: the name)
    elementwise: bool = False
    domain: tuple = ()          # per input: (lo, hi), "nonzero" or "bool"; default (-2, 2)
    cases: tuple = ()           # Case(...) rows for the generic checker
    helpers: Any = ()           # run-time functions the code calls (or node -> tuple)
    math: str | None = None     # Python-float template for 0-d nodes, e.g. "math.sin({0})"
    # The op on float64/bool scalars inside a Numba kernel, over the operand names {0},
    # {1}... (each a local, so a name may appear twice); None: it stays a NumPy call.
    numba: str | None = None
    # In a kernel over arrays: (pre, ufunc, post), the op as ``pre`` in one loop, NumPy's
    # ``ufunc`` over the whole array in place (vectorized, where Numba's scalar exp is
    # ~8 against ~0.8 ns an element), then ``post`` of its value ({0}) in the next loop.
    numba_split: tuple[str, str, str] | None = None
    # True (or node -> bool) when its NumPy ``code``/``block`` also compiles inside a
    # Numba function on float64 values (C-contiguous inputs): a plan of such nodes and
    # fused regions becomes one compiled function, with no Python between the steps.
    numba_body: bool | Callable = False
    # Its expression in such a compiled function when not its NumPy ``code``:
    # (args, node) -> str (matrix products call BLAS directly: numba_products.py).
    numba_code: Callable | None = None
    # For arrays: ufunc calls that build the result in one buffer. The first writes
    # the buffer ("{out}" becomes ", out=BUF" or nothing for a new array), the rest
    # update it in place ("{o}"). Or node -> such a tuple (constants by dtype).
    steps: tuple | Callable = ()
    differentiable: bool = True
    # What the rewrites ask about an op (``symdiff/rewrite`` derives its tables from these).
    commutative: bool = False   # op(a, b) == op(b, a): patterns match either order
    see_through: bool = False   # copies elements of input 0 (a broadcast, a reshape): a
    #                             constant whose elements are all equal is seen through it
    broadcasts: bool = False    # an explicit broadcast of input 0 to a larger shape
    same_type: bool = False     # operands of one floating dtype and one shape give a
    #                             result of that dtype and shape (its type need not be
    #                             inferred)
    blows_up: bool = False      # inf or nan at some finite inputs (a pole, the edge of its
    #                             domain, overflow): the NaN-safe ``where`` rule guards it
    # What codegen's memory plan needs to know:
    block: Callable | None = None   # statements instead of one expression (see above)
    fresh: bool = False             # a block whose result is a new array, safe to overwrite
    overwrites_first: bool = False  # a block that may update its first operand in place
    view: bool = False              # the result may share memory with the first operand
    array_0d: bool = False          # a 0-d result is a 0-d array or a Python float, not a
    #                                 NumPy scalar (so are views' and ops' on literals)
    # How the portable printer writes it against the Array API namespace ``xp``
    # (symdiff/ops/portable.py); None: no portable form.
    portable: Portable | None = None

    def __repr__(self) -> str:
        return self.name


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} declared twice")
    OPS[op.name] = op
    return op


# -- type rules -------------------------------------------------------------------

_probe_cache: dict = {}


def probe_dtype(impl: Callable, dtypes: Sequence[np.dtype], attrs: dict) -> np.dtype:
    """The result dtype NumPy itself gives for these input dtypes (cached)."""
    key = (impl, tuple(d.str for d in dtypes), tuple(sorted(attrs.items())) if attrs else ())
    if key not in _probe_cache:
        with np.errstate(all="ignore"):
            args = [np.ones((), d) for d in dtypes]
            _probe_cache[key] = np.asarray(impl(*args, **attrs)).dtype
    return _probe_cache[key]


def infer_elementwise(name: str, impl: Callable) -> Callable:
    def infer(inputs, attrs):
        shape = broadcast_shapes(*(i.shape for i in inputs), op=name)
        return probe_dtype(impl, [i.dtype for i in inputs], attrs), shape
    return infer


def float_dtype(*dtypes: np.dtype) -> np.dtype:
    dt = np.result_type(*dtypes)
    return dt if dt.kind == "f" else np.dtype("float64")


def normalize_axis(axis: Any, ndim: int, op: str) -> tuple | None:
    """``axis`` as a sorted tuple of non-negative ints, or None for all axes."""
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    try:
        axes = tuple(int(a) for a in axis)
    except TypeError:
        raise ShapeError(f"{op}: axis must be an int, a tuple of ints or None, "
                         f"not {axis!r}") from None
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of bounds for an operand of "
                             f"{ndim} dimension{'s' if ndim != 1 else ''}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def reduced_shape(shape: tuple, axes: tuple | None, keepdims: bool) -> tuple:
    axes = range(len(shape)) if axes is None else axes
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def shape_error(op: str, message: str, *nodes: Node) -> ShapeError:
    shapes = " and ".join(fmt_shape(n.shape) for n in nodes)
    return ShapeError(f"{op}: {message} (operand shapes {shapes})")


# -- printing helpers ----------------------------------------------------------------

def fmt_attr(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 1:
        return str(value[0]) if isinstance(value[0], int) else repr(value)
    return repr(value)


def inside(child: Callable, n: Node) -> bool:
    """Whether a printing rule may write operand ``n`` through its own operands (a
    scale pulled out, a transpose undone): not when ``n`` prints as a name (a shared
    subexpression ``s1``), whose operands are not printed."""
    return n.id not in getattr(child, "named", ())


def call_text(name: str, *attr_names: str, defaults: dict | None = None) -> Callable:
    """Print as ``name(a, b, axis=1)``; attributes equal to their default are left out."""
    defaults = defaults or {}

    def text(node, child):
        parts = [child(i, 0) for i in node.inputs]
        for key in attr_names:
            value = node.attr(key)
            if key in defaults and defaults[key] == value:
                continue
            parts.append(f"{key}={fmt_attr(value)}")
        return f"{name}({', '.join(parts)})", P_ATOM
    return text


def infix_text(symbol: str, prec: int, right_assoc: bool = False,
               associative: bool = False, chains: bool = False) -> Callable:
    """Print ``a SYMBOL b`` by Python's grammar: operators of one precedence group left
    to right (``**`` right to left), so an operand of the same precedence on the
    grouping side needs no parentheses and one on the other side does: ``a*(b*c)``
    and ``x*(x @ y)`` keep theirs (regrouped, floats round differently, and ``2*(1/0*x)``
    would make ``2*1/0``, which a reader folds as Python numbers). A comparison
    (``chains``) parenthesises both sides, since Python reads ``a < b < c`` as a chain.
    ``@`` next to ``*`` or ``/`` is parenthesised although Python would not need it:
    ``(x @ y)*z``, for a reader's eye. (``associative`` is kept for the records.)"""
    def text(node, child):
        a, b = node.inputs
        if chains:
            return f"{child(a, prec + 1)} {symbol} {child(b, prec + 1)}", prec
        left = child(a, prec + 1 if right_assoc or _mixes(node, a) else prec)
        right = child(b, prec if right_assoc else prec + 1)
        sep = " " if prec <= P_ADD or symbol == "@" else ""
        return f"{left}{sep}{symbol}{sep}{right}", prec
    return text


def _mixes(node: Node, operand: Node) -> bool:
    """A matrix product directly inside an elementwise product or quotient, or the other
    way round (same precedence in Python, easy to misread)."""
    names = {node.op.name, operand.op.name}
    return "matmul" in names and bool(names & {"mul", "div"})


def call_latex(macro: str) -> Callable:
    def latex(node, child):
        args = ", ".join(child(i, 0) for i in node.inputs)
        return rf"{macro}\left({args}\right)", P_ATOM
    return latex


# -- code helpers ----------------------------------------------------------------

def np_call(fn: str, *attr_names: str) -> tuple[Callable, Callable]:
    """Code templates for ``fn(args..., attr=...)`` and its ``out=`` form."""
    def attrs(node):
        return "".join(f", {k}={fmt_attr(node.attr(k))}" for k in attr_names)

    def code(args, node):
        return f"{fn}({', '.join(args)}{attrs(node)})"

    def out(args, node, buf):
        return f"{fn}({', '.join(args)}{attrs(node)}, out={buf})"
    return code, out


def infix_code(symbol: str, fn: str) -> tuple[Callable, Callable]:
    def code(args, node):
        return f"{args[0]} {symbol} {args[1]}"

    def out(args, node, buf):
        # In place as an augmented assignment: the same ufunc call without parsing
        # the out= keyword (and easier to read). + and * commute exactly in IEEE.
        if symbol in "+-*/" and buf == args[0]:
            return f"{buf} {symbol}= {args[1]}"
        if symbol in "+*" and buf == args[1]:
            return f"{buf} {symbol}= {args[0]}"
        return f"{fn}({args[0]}, {args[1]}, out={buf})"
    return code, out
