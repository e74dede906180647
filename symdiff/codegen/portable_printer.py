"""The portable printer: a plan spelled against the Array API standard namespace ``xp``
of the arguments, so that one source runs on Dask, CuPy, PyTorch, JAX and
array-api-strict (``f.portable_source``).

It prints the same plan as the NumPy printer, made without buffer reuse, in-place
or ``out=`` forms, kept buffers or Python floats (``readable=True``): one new array
per node, which lazy libraries (Dask) need anyway. The rules it follows:

- only functions the standard names (``xp.exp``, ``xp.sum``, ``xp.permute_dims``,
  operators); no ``out=``, no NumPy-only calls, no in-place update of an argument;
- the standard does not promote between kinds (an integer array times a float), so
  each operand is cast to the dtype NumPy would compute in (``xp.astype``) before
  the op: the result has the dtype the NumPy code gives;
- a Python number is an operand of an operator as it is, but of a function as
  ``xp.asarray(number, dtype=...)`` (functions of the standard take arrays);
- an index names every axis (``x[1, ...]``): the standard has no implicit trailing
  slices;
- ops the standard has no single function for call the functions of
  ``symdiff.portable_runtime``: the stable sigmoid, logsumexp and the softmax family
  (the max taken out first, as in the NumPy code), and the scatters of indexing
  adjoints, which write into a new array of zeros (JAX: ``.at[...].set``);
- an op with no entry in ``PORTABLE`` has no portable form: printing it raises
  ``NoPortableForm`` naming the op.

``PORTABLE`` is keyed by op name: each entry is that op's portable template, kept
beside the others here while the op table is being split into families (it belongs
in the op records as a field).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .. import portable_runtime as rt
from ..errors import CompileError
from ..ir import Node, meta
from ..ops.logistic import sigmoid_top
from ..printing import short_text
from .numpy_printer import MAX_WRITTEN_CONSTANT, docstring
from .plan import const_literal
from .statements import Backward, Check, Compute, Differentiates, Free, Pair, Plan, Return


class NoPortableForm(CompileError):
    """An op of the graph has no portable (Array API) form."""

    def __init__(self, op: str) -> None:
        super().__init__(f"op {op!r} has no portable (Array API) form")
        self.op = op


class Portable(NamedTuple):
    """How one op is written against ``xp``.

    ``code(args, node)``: the expression, over the spelled operands. ``cast``: which
    dtype array operands are cast to first: ``"result"`` the node's, ``"common"``
    the operands' common dtype (comparisons), ``"where"`` the node's for the two
    branches, ``"none"``. ``infix``: the operands are those of Python operators, so a
    number stays a Python number. ``helpers``: the ``portable_runtime`` functions
    the code calls.
    """
    code: Callable[[list[str], Node], str]
    cast: str = "result"
    infix: bool = False
    helpers: tuple = ()


def _dtype(dt: np.dtype) -> str:
    return f"xp.{np.dtype(dt).name}"


def _call(fn: str, cast: str = "result") -> Portable:
    return Portable(lambda a, n: f"xp.{fn}({', '.join(a)})", cast)


def _infix(symbol: str, cast: str = "result") -> Portable:
    return Portable(lambda a, n: f"{a[0]} {symbol} {a[1]}", cast, infix=True)


def _axis_kw(node: Node) -> str:
    axis, out = node.attr("axis"), ""
    if axis is not None:
        out += f", axis={axis!r}"
    if node.attr("keepdims"):
        out += ", keepdims=True"
    return out


def _reduce(fn: str) -> Portable:
    return Portable(lambda a, n: f"xp.{fn}({a[0]}{_axis_kw(n)})")


def index_text(index: tuple, ndim: int) -> str:
    """A basic index as Python source, with ``...`` for the axes it does not name."""
    parts = []
    for item in index:
        if item is None:
            parts.append("None")
        elif isinstance(item, int):
            parts.append(str(item))
        else:
            start, stop, step = item[1:]
            text = f"{'' if start is None else start}:{'' if stop is None else stop}"
            parts.append(text + (f":{step}" if step is not None else ""))
    if sum(1 for i in index if i is not None) < ndim or not parts:
        parts.append("...")
    return ", ".join(parts)


def _index_value(index: tuple, ndim: int) -> str:
    """The same index as a Python value (a tuple), for the scatter helpers."""
    parts = []
    for item in index:
        if item is None or isinstance(item, int):
            parts.append(repr(item))
        else:
            parts.append(f"slice{item[1:]!r}")
    if sum(1 for i in index if i is not None) < ndim or not parts:
        parts.append("...")
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _matmul(a, n):
    """``a @ b``; as ``tensordot`` for operands of at most two axes (the same product).
    Dask computes that as a blockwise product and a tree sum over the row chunks; its
    ``@`` with a vector operand adds a getitem task per chunk on each side (a
    logistic loss and gradient over 16 chunks: 246 tasks with @, 131 with tensordot)."""
    x, y = n.inputs
    if x.ndim <= 2 and y.ndim <= 2:
        return f"xp.tensordot({a[0]}, {a[1]}, axes=1)"
    return f"{a[0]} @ {a[1]}"


def _transpose(a, n):
    axes = n.attr("axes")
    if n.ndim == 2 and axes == (1, 0):
        return f"{a[0]}.T"
    return f"xp.permute_dims({a[0]}, {axes!r})"


def _expand_dims(a, n):
    text = a[0]
    for axis in n.attr("axis"):   # ascending: each is a position in the result
        text = f"xp.expand_dims({text}, axis={axis})"
    return text


def _concat_part(a, n):
    axis, part = n.attr("axis"), n.attr("part")
    start = " + ".join(f"{x}.shape[{axis}]" for x in a[1:1 + part]) or "0"
    stop = f"{start} + {a[1 + part]}.shape[{axis}]" if part else f"{a[1]}.shape[{axis}]"
    lead = ":, " * axis
    trail = ", ..." if axis + 1 < n.ndim else ""
    return f"{a[0]}[{lead}{start}:{stop}{trail}]"


def _concat_pad(a, n):
    parts = [a[0] if k == n.attr("part") else f"xp.zeros_like({x}, dtype={_dtype(n.dtype)})"
             for k, x in enumerate(a[1:])]
    return f"xp.concat(({', '.join(parts)},), axis={n.attr('axis')})"


def _bool_or(node: Node, a: list[str], symbol: str, logical: str) -> str:
    if node.dtype == np.bool_:
        return f"xp.{logical}({a[0]}, {a[1]})"
    return f"{a[0]} {symbol} {a[1]}"


def _unary_table() -> dict[str, Portable]:
    names = {"exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1",
             "sqrt": "sqrt", "square": "square", "abs": "abs", "sign": "sign",
             "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh", "sinh": "sinh",
             "cosh": "cosh", "arcsin": "asin", "arccos": "acos", "arctan": "atan"}
    return {op: _call(fn) for op, fn in names.items()}


PORTABLE: dict[str, Portable] = {
    **_unary_table(),
    "neg": Portable(lambda a, n: f"-{a[0]}", infix=True),
    # NumPy's + and * of booleans are or and and; the standard has no arithmetic on them
    "add": Portable(lambda a, n: _bool_or(n, a, "+", "logical_or"), infix=True),
    "mul": Portable(lambda a, n: _bool_or(n, a, "*", "logical_and"), infix=True),
    "sub": _infix("-"), "div": _infix("/"),
    "pow": _infix("**"),
    "maximum": _call("maximum"), "minimum": _call("minimum"),
    "logaddexp": _call("logaddexp"),
    # clip(x, lo, hi) = min(max(x, lo), hi), as NumPy computes it (hi wins if lo > hi)
    "clip": Portable(lambda a, n: f"xp.minimum(xp.maximum({a[0]}, {a[1]}), {a[2]})"),
    "relu": Portable(lambda a, n: f"xp.maximum({a[0]}, xp.asarray(0.0, "
                                  f"dtype={_dtype(n.dtype)}))"),
    "softplus": Portable(lambda a, n: f"xp.logaddexp(xp.asarray(0.0, "
                                      f"dtype={_dtype(n.dtype)}), {a[0]})"),
    "sigmoid": Portable(lambda a, n: f"_xp_sigmoid(xp, {a[0]}, {sigmoid_top(n.dtype)!r})",
                        helpers=(rt._xp_sigmoid,)),
    **{name: _infix(symbol, "common") for name, symbol in (
        ("less", "<"), ("less_equal", "<="), ("greater", ">"), ("greater_equal", ">="),
        ("equal", "=="), ("not_equal", "!="))},
    "logical_and": _call("logical_and", "none"), "logical_or": _call("logical_or", "none"),
    "logical_not": _call("logical_not", "none"),
    "where": _call("where", "where"),
    # reductions: Dask makes each a tree reduction over the chunks
    "sum": _reduce("sum"), "mean": _reduce("mean"), "prod": _reduce("prod"),
    "max": _reduce("max"), "min": _reduce("min"),
    "logsumexp": Portable(lambda a, n: f"_xp_logsumexp(xp, {a[0]}{_axis_kw(n)})",
                          helpers=(rt._xp_logsumexp,)),
    "softmax": Portable(lambda a, n: f"_xp_softmax(xp, {a[0]}, {n.attr('axis')})",
                        helpers=(rt._xp_softmax,)),
    "log_softmax": Portable(lambda a, n: f"_xp_log_softmax(xp, {a[0]}, {n.attr('axis')})",
                            helpers=(rt._xp_log_softmax,)),
    "matmul": Portable(_matmul),
    "outer": Portable(lambda a, n: f"{a[0]}[:, None] * {a[1]}"),
    "transpose": Portable(_transpose, "none"),
    "reshape": Portable(lambda a, n: f"xp.reshape({a[0]}, {n.attr('shape')!r})", "none"),
    "reshape_like": Portable(lambda a, n: f"xp.reshape({a[0]}, {a[1]}.shape)", "none"),
    "expand_dims": Portable(_expand_dims, "none"),
    "squeeze": Portable(lambda a, n: f"xp.squeeze({a[0]}, axis={n.attr('axis')!r})", "none"),
    "broadcast_to": Portable(lambda a, n: f"xp.broadcast_to({a[0]}, {n.attr('shape')!r})",
                             "none"),
    "broadcast_like": Portable(lambda a, n: f"xp.broadcast_to({a[0]}, {a[1]}.shape)",
                               "none"),
    "astype": Portable(lambda a, n: f"xp.astype({a[0]}, {_dtype(n.dtype)})", "none"),
    "zeros_like": Portable(lambda a, n: f"xp.zeros_like({a[0]}, dtype={_dtype(n.dtype)})",
                           "none"),
    "eye_like": Portable(lambda a, n: f"_xp_eye_like(xp, {a[0]}, {_dtype(n.dtype)})", "none",
                         helpers=(rt._xp_eye_like,)),
    # lengths are Python ints (unknown Dask lengths are refused when called)
    "shape_size": Portable(lambda a, n: "float(" + " * ".join(
        f"{a[0]}.shape[{k}]" for k in n.attr("axis")) + ")", "none"),
    "getitem": Portable(lambda a, n: f"{a[0]}[{index_text(n.attr('index'), n.inputs[0].ndim)}]",
                        "none"),
    # the adjoints of indexing write into a new array of zeros (or a copy of x)
    "embed": Portable(lambda a, n: (f"_xp_embed(xp, {a[0]}, {a[1]}, "
                                    f"{_index_value(n.attr('index'), n.ndim)}, "
                                    f"{_dtype(n.dtype)})"), "none", helpers=(rt._xp_embed,)),
    "add_at": Portable(lambda a, n: (f"_xp_add_at(xp, {a[0]}, {a[1]}, "
                                     f"{_index_value(n.attr('index'), n.ndim)})"),
                       helpers=(rt._xp_add_at,)),
    "concatenate": Portable(lambda a, n: f"xp.concat(({', '.join(a)},), "
                                         f"axis={n.attr('axis')})"),
    "concat_part": Portable(_concat_part, "none"),
    "concat_pad": Portable(_concat_pad, "none"),
}

# Ops whose result is a Python number rather than an array of the library.
_PYTHON_NUMBER = {"shape_size"}

FUSED = {("logsumexp", "softmax"): rt._xp_logsumexp_softmax}


def check_portable(nodes) -> None:
    """Raise ``NoPortableForm`` for the first op of ``nodes`` without a portable form."""
    for node in nodes:
        if node.inputs and node.op.name not in PORTABLE:
            raise NoPortableForm(node.op.name)


def portable_source(plan: Plan) -> tuple[str, dict]:
    """The portable source of a plan made with ``readable=True``, and the names it uses
    but does not define (big constants)."""
    printer = _Printer(plan)
    held = {f"_constant_{name}": node.value for name, node in plan.constants
            if node.value.size > MAX_WRITTEN_CONSTANT}
    helpers = sorted({fn.__name__ for fn in printer.helpers} | {"_namespace", "_xp_arg"})
    lines = ["import numpy as np", "",
             f"from symdiff.portable_runtime import {', '.join(helpers)}"]
    constants = [_constant_line(name, node, f"_constant_{name}" in held)
                 for name, node in plan.constants]
    parts = ["\n".join(lines)] + (["\n".join(constants)] if constants else [])
    parts.append("\n".join(printer.lines))
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n", held


def _constant_line(name: str, node: Node, held: bool) -> str:
    if held:
        return (f"# _constant_{name}: a {node.dtype.name} {node.shape} constant, held by the "
                f"compiled function (too big to write out)")
    value = node.value
    dtype = "np.bool_" if value.dtype == np.bool_ else f"np.{value.dtype.name}"
    return f"_constant_{name} = np.array({_literal_list(value.tolist())}, {dtype})"


def _literal_list(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal_list(v) for v in value) + "]"
    return _number(value)


def _number(v) -> str:
    """A Python number as source (inf and nan as float(...), negatives in parentheses)."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return f'float("{v}")'
    text = repr(v)
    return f"({text})" if text.startswith("-") else text


class _Printer:
    """The lines of the portable function: ``label`` is how each value is written,
    ``numbers`` the nodes whose value is a Python number rather than an array."""

    def __init__(self, plan: Plan) -> None:
        check_portable(n for s in plan.main.statements if isinstance(s, Compute)
                       for n in [s.node])
        self.plan = plan
        self.helpers: list[Callable] = []
        self.label: dict[int, str] = {}
        self.numbers: set[int] = set()
        params = [v.name for v in plan.inputs]
        self.lines = [f"def {plan.name}({', '.join(params)}):", f'    """{docstring(plan)}"""']
        body: list[str] = []
        # the namespace and its device are called xp and device: parameters of those
        # names take others
        self.label.update((v.id, v.name) for v in plan.inputs)
        for v in plan.inputs:
            if v.name in ("xp", "device"):
                alias = next(f"{v.name}{k}" for k in range(1, 10 ** 6)
                             if f"{v.name}{k}" not in params)
                body.append(f"{alias} = {v.name}")
                self.label[v.id] = alias
        named = ", ".join(f"{v.name}={self.label[v.id]}" for v in plan.inputs)
        body.append(f"xp, device = _namespace({named})")
        for name, node in plan.constants:
            self.label[node.id] = name
            body.append(f"{name} = xp.asarray(_constant_{name}, device=device)")
        self.body = body
        spell = {Check: self._check, Backward: self._backward, Free: lambda s: None,
                 Differentiates: self._differentiates, Compute: self._compute,
                 Pair: self._pair, Return: self._return}
        for statement in plan.main.statements:
            spell[type(statement)](statement)
        self.lines += ["    " + line if line else "" for line in body]

    def _need(self, fns) -> None:
        self.helpers += [fn for fn in fns if fn not in self.helpers]

    def _check(self, s: Check) -> None:
        v, name = s.var, self.label[s.var.id]
        self.body.append(f"{name} = _xp_arg(xp, device, {name}, {v.name!r}, {_dtype(v.dtype)}, "
                         f"{tuple(v.shape)!r})")

    def _backward(self, s: Backward) -> None:
        self.body += ["", "# backward pass"]

    def _differentiates(self, s: Differentiates) -> None:
        # No buffer is reused: a name holds its value to the end.
        o = s.origin
        names = [self.label.get(n.id) for n in (o, *o.inputs)]
        if all(n is not None and n.isidentifier() for n in names):
            self.body.append(f"# d/d {names[0]} where {names[0]} = {o.op.name} "
                             f"{' '.join(names[1:])}")
        else:
            self.body.append(f"# d/d {short_text(o)}")

    def _operand(self, node: Node, want: np.dtype | None, infix: bool) -> str:
        if node.op.name == "const" and node.id not in self.label:
            literal = const_literal(node.value)
            if literal is not None:
                text = _number(node.value.item())
                if infix:
                    return text
                return f"xp.asarray({text}, dtype={_dtype(want or node.dtype)})"
        text = self.label[node.id]
        if node.id in self.numbers:
            return text if infix else f"xp.asarray({text}, dtype={_dtype(want or node.dtype)})"
        if want is not None and node.dtype != want:
            return f"xp.astype({text}, {_dtype(want)})"
        return text

    def _operands(self, node: Node, entry: Portable) -> list[str]:
        inputs = node.inputs
        if entry.cast == "result":
            wants = [node.dtype] * len(inputs)
        elif entry.cast == "common":
            wants = [np.result_type(*(i.dtype for i in inputs))] * len(inputs)
        elif entry.cast == "where":
            wants = [None, node.dtype, node.dtype]
        else:
            wants = [None] * len(inputs)
        return [self._operand(i, w, entry.infix) for i, w in zip(inputs, wants)]

    def _compute(self, s: Compute) -> None:
        node = s.node
        entry = PORTABLE[node.op.name]
        self._need(entry.helpers)
        args = self._operands(node, entry)
        self.label[node.id] = s.name
        if node.op.name in _PYTHON_NUMBER or (
                entry.infix and all(self._is_number(i) for i in node.inputs)):
            self.numbers.add(node.id)
        self.body.append(f"{s.name} = {entry.code(args, node)}")

    def _is_number(self, node: Node) -> bool:
        return node.id in self.numbers or (node.op.name == "const" and node.id not in self.label
                                           and const_literal(node.value) is not None)

    def _pair(self, s: Pair) -> None:
        fn = FUSED[(s.first.op.name, s.second.op.name)]
        self._need([fn])
        a, b = s.names
        self.label[s.first.id], self.label[s.second.id] = a, b
        (arg,) = self._operands(s.first, PORTABLE[s.first.op.name])
        keep = ", keepdims=True" if s.first.attr("keepdims") else ""
        self.body.append(f"{a}, {b} = {fn.__name__}(xp, {arg}, {s.second.attr('axis')}{keep})")

    def _return(self, s: Return) -> None:
        values = []
        for o, how in s.values:
            if self._is_number(o) or o.op.name == "const" and o.id not in self.label:
                text = self._operand(o, o.dtype, infix=False)
            elif how == "copy":
                text = f"xp.asarray({self.label[o.id]}, copy=True)"
            else:
                text = self.label[o.id]
            values.append(text)
        single = self.plan.single
        self.body.append("return " + (values[0] if single else ", ".join(values)
                                      + ("," if len(values) == 1 else "")))
