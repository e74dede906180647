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
- an op whose record has no ``portable`` template has no portable form: printing it
  raises ``NoPortableForm`` naming the op.

How each op is written comes from its record (``Op.portable``, a
``symdiff.ops.portable.Portable``), and a fused pair's single call from its
``Fusion`` record (``Fusion.portable``): this module only spells the plan.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import CompileError
from ..ir import Node
from ..ops.portable import Portable, dtype_text
from ..printing import short_text
from .numpy_printer import MAX_WRITTEN_CONSTANT, docstring
from .plan import const_literal
from .statements import Backward, Check, Compute, Differentiates, Free, Pair, Plan, Return


class NoPortableForm(CompileError):
    """An op of the graph has no portable (Array API) form."""

    def __init__(self, op: str) -> None:
        super().__init__(f"op {op!r} has no portable (Array API) form")
        self.op = op


def check_portable(nodes) -> None:
    """Raise ``NoPortableForm`` for the first op of ``nodes`` without a portable form."""
    for node in nodes:
        if node.inputs and node.op.portable is None:
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
        check_portable(n for s in plan.main.statements
                       for n in ([s.node] if isinstance(s, Compute) else
                                 [s.first, s.second] if isinstance(s, Pair) else []))
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
        self.body.append(f"{name} = _xp_arg(xp, device, {name}, {v.name!r}, {dtype_text(v.dtype)}, "
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
                return f"xp.asarray({text}, dtype={dtype_text(want or node.dtype)})"
        text = self.label[node.id]
        if node.id in self.numbers:
            if infix:
                return text
            return f"xp.asarray({text}, dtype={dtype_text(want or node.dtype)})"
        if want is not None and node.dtype != want:
            return f"xp.astype({text}, {dtype_text(want)})"
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
        entry = node.op.portable
        self._need(entry.helpers)
        args = self._operands(node, entry)
        self.label[node.id] = s.name
        if entry.number or (
                entry.infix and all(self._is_number(i) for i in node.inputs)):
            self.numbers.add(node.id)
        self.body.append(f"{s.name} = {entry.code(args, node)}")

    def _is_number(self, node: Node) -> bool:
        return node.id in self.numbers or (node.op.name == "const" and node.id not in self.label
                                           and const_literal(node.value) is not None)

    def _pair(self, s: Pair) -> None:
        fusion = s.fusion
        if fusion.portable is None:   # no single portable call: the two ops one by one
            self._compute(Compute(s.first, s.names[0], "call"))
            self._compute(Compute(s.second, s.names[1], "call"))
            return
        self._need(fusion.portable_helpers)
        a, b = s.names
        self.label[s.first.id], self.label[s.second.id] = a, b
        (arg,) = self._operands(s.first, s.first.op.portable)
        self.body.append(f"{a}, {b} = {fusion.portable(arg, s.first, s.second)}")

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
