"""The NumPy printer: a plan (``plan.py``) becomes Python source, and nothing else is
decided here.

- Each node is spelled by its op's record: ``math`` on Python floats, ``code`` for a
  new array, ``out`` or ``steps`` for a given buffer, ``block`` for several
  statements; the run-time functions it calls (``helpers``) are imported at the top.
- Derivative nodes are grouped under a comment naming the forward step they
  differentiate (``# d/d t3 where t3 = sigmoid t2``, while those names still hold
  those values), so the source reads as the forward pass then the backward pass.
- ``function_source`` begins with the imports it needs (NumPy and
  ``symdiff.runtime``) and defines its constants, so it runs on its own;
  ``module_source_text`` copies the run-time functions in instead, for a module that
  needs only NumPy.
"""
from __future__ import annotations

import inspect
import types
from typing import Callable

import numpy as np

from .. import runtime
from ..ir import Node, meta
from ..printing import short_text, shorten, to_texts, type_str
from .plan import KEEP_MIN_SIZE, const_literal, float_arg_needs_cast
from .statements import (
    Backward, Body, Buffers, Check, Compute, Differentiates, Dispatch, Free, Pair, Plan, Return,
)

# Constants with more elements than this are not written out in ``f.source``: the
# compiled function holds them (a data set baked into a graph would swell the source).
MAX_WRITTEN_CONSTANT = 1000
# The outputs described in the docstring of generated code, each cut to this width.
DOC_WIDTH = 70


def function_source(plan: Plan, printer: type | None = None,
                    blocks: Callable[[], list[str]] | None = None) -> tuple[str, dict]:
    """``f.source``, and the names it uses but does not define (big constants).
    ``printer`` (a ``BodyPrinter``) spells the bodies; ``blocks`` gives top-level
    blocks to place before the functions once they are printed (compiled kernels)."""
    text = _Functions(plan, printer or BodyPrinter)
    held = {name: node.value for name, node in plan.constants
            if node.value.size > MAX_WRITTEN_CONSTANT}
    imports = _imports(text)
    by_module: dict[str, list[str]] = {}
    for fn in text.helpers:
        by_module.setdefault(fn.__module__, []).append(fn.__name__)
    if plan.other_arrays and plan.inputs:
        by_module[runtime.__name__].append("_native")
    imports += [f"from {module} import {', '.join(sorted(names))}"
                for module, names in sorted(by_module.items())]
    lines = [_constant_line(name, node, name in held) for name, node in plan.constants]
    if text.keeps:
        lines.append("_pool = []   # sets of big temporaries kept between calls")
    extra = blocks() if blocks is not None else []
    return _join(imports, (["\n".join(lines)] if lines else []) + extra, text.source), held


def module_source_text(plan: Plan, doc: str = "") -> str:
    """A module that needs only NumPy: the run-time functions are copied in."""
    text = _Functions(plan, BodyPrinter)
    imports = _imports(text)
    copied = _with_dependencies(text.helpers)
    blocks = []
    if _uses_shape_error(copied):
        blocks.append(f'class ShapeError(ValueError):\n    """{_SHAPE_ERROR_DOC}"""')
    blocks += [inspect.getsource(fn) for fn in copied]
    if plan.constants:
        blocks.append("\n".join(_constant_line(name, node, False)
                                for name, node in plan.constants))
    header = f'"""{doc}"""\n\n' if doc else ""
    return header + _join(imports, blocks, text.source)


_SHAPE_ERROR_DOC = "An argument does not have the shape the function was generated for."


def _imports(text: "_Functions") -> list[str]:
    imports = ["import math", ""] if text.floats else []
    imports.append("import numpy as np")
    if text.asarray:
        imports.append("from numpy import asarray")
    return imports


def _join(imports: list[str], blocks: list[str], functions: str) -> str:
    """Imports, then the top-level blocks, then the functions, two blank lines apart."""
    parts = ["\n".join(imports), *blocks, functions]
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


def _constant_line(name: str, node: Node, held: bool) -> str:
    if held:
        return (f"# {name}: a {type_str(node)} constant, held by the compiled function "
                f"(too big to write out)")
    value = node.value
    dtype = "np.bool_" if value.dtype == np.bool_ else f"np.{value.dtype.name}"
    if value.size == 0:
        return f"{name} = np.zeros({value.shape!r}, {dtype})"
    return f"{name} = np.array({_array_literal(value.tolist())}, {dtype})"


def _array_literal(value) -> str:
    """A nested list as Python source; inf and nan as NumPy's names (repr gives
    ``inf``, which Python does not read)."""
    if isinstance(value, list):
        return "[" + ", ".join(_array_literal(v) for v in value) + "]"
    if isinstance(value, float) and not np.isfinite(value):
        return "np.nan" if value != value else ("np.inf" if value > 0 else "-np.inf")
    return repr(value)


def _with_dependencies(helpers: list[Callable]) -> list[Callable]:
    """The run-time functions and those they call, in the order of ``symdiff.runtime``."""
    found: dict[str, Callable] = {}
    todo = list(helpers)
    while todo:
        fn = todo.pop()
        if fn.__name__ in found:
            continue
        found[fn.__name__] = fn
        module = vars(inspect.getmodule(fn))
        todo += [module[name] for name in _global_names(fn.__code__)
                 if isinstance(module.get(name), types.FunctionType)
                 and module[name].__module__ == fn.__module__]
    return sorted(found.values(), key=lambda fn: fn.__code__.co_firstlineno)


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):   # comprehensions, nested functions
            names |= _global_names(const)
    return names


def _uses_shape_error(functions: list[Callable]) -> bool:
    return any("ShapeError" in _global_names(fn.__code__) for fn in functions)


class _Functions:
    """The ``def``s of a plan, and what they need from outside (imports, helpers)."""

    def __init__(self, plan: Plan, printer: type) -> None:
        self.plan, self.printer = plan, printer
        self.helpers: list[Callable] = []
        self.floats = self.asarray = self.keeps = False
        params = ", ".join(v.name for v in plan.inputs)
        doc = docstring(plan)
        main = self._body(plan.main)
        parts = [f"def {plan.name}({params}):", f'    """{doc}"""']
        if plan.other_arrays:
            parts += _indent(self._other_arrays(params), 1)
        if plan.fallback is not None:
            name = plan.fallback.name
            parts += ["    try:", *_indent(main, 2),
                      "    except (ArithmeticError, ValueError):",
                      "        # Python's math raised where NumPy gives inf or nan: redo it in "
                      "NumPy.",
                      f"        return {name}({params})", "", "",
                      f"def {name}({params}):",
                      '    """The same computation in NumPy only (for inf/nan results)."""',
                      *_indent(self._body(plan.fallback), 1)]
        else:
            parts += _indent(main, 1)
        if plan.kept_variant is not None:
            parts += ["", "", f"def {plan.kept_variant.name}({params}):",
                      '    """The same computation, keeping big temporaries between calls."""',
                      *_indent(self._body(plan.kept_variant), 1)]
        self.source = "\n".join(parts) + "\n"

    def _other_arrays(self, params: str) -> list[str]:
        """One class test per argument, in the function itself (no wrapper: the NumPy
        path pays only these tests); other classes ask ``_other_arrays`` what to run."""
        if not self.plan.inputs:
            return []
        self._need([runtime._other_arrays])
        terms = [f"{v.name}.__class__ not in _native" for v in self.plan.inputs]
        lines = [f"if {terms[0]}"]
        for term in terms[1:]:   # wrapped under 100 columns, as the rest of the source
            if len(lines[-1]) + len(term) > 86:
                lines.append(f"        or {term}")
            else:
                lines[-1] += f" or {term}"
        if len(lines) > 1:
            lines[0] = lines[0].replace("if ", "if (", 1)
            lines[-1] += ")"
        return [*lines[:-1], lines[-1] + ":",
                f"    _run = _other_arrays({params})",
                "    if _run is not None:",
                f"        return _run({params})"]

    def _need(self, fns) -> None:
        for fn in fns:
            if fn not in self.helpers:
                self.helpers.append(fn)

    def _body(self, body: Body) -> list[str]:
        self.floats |= bool(body.floats)
        self.keeps |= body.keeps
        return self.printer(self, body).lines


class BodyPrinter:
    """The lines of one body; ``label`` is how each value is written so far, ``holder``
    which value each buffer holds now."""

    def __init__(self, out: _Functions, body: Body) -> None:
        self.out, self.body, self.plan = out, body, out.plan
        self.label: dict[int, str] = {v.id: v.name for v in self.plan.inputs}
        self.label.update((n.id, name) for name, n in self.plan.constants)
        self.holder: dict[str, int] = {}
        self.lines: list[str] = []
        spell = {Check: self._check, Dispatch: self._dispatch, Buffers: self._buffers,
                 Backward: self._backward, Differentiates: self._differentiates,
                 Compute: self._compute, Pair: self._pair, Free: self._free,
                 Return: self._return}
        for statement in body.statements:
            spell[type(statement)](statement)

    def _ref(self, node: Node) -> str:
        if node.id not in self.label and node.op.name == "const":
            self.label[node.id] = const_literal(node.value)
        return self.label[node.id]

    def _check(self, s: Check) -> None:
        v = s.var
        if s.as_float:
            self.out._need([runtime._scalar_arg])
            self.lines.append(f"if {v.name}.__class__ is not float: "
                              f"{v.name} = _scalar_arg({v.name}, {v.name!r})")
            return
        self.out._need([runtime._shape_error])
        self.out.asarray = True
        dt = f"np.{v.dtype.name}" if v.dtype.name != "bool" else "np.bool_"
        static = [(i, d) for i, d in enumerate(v.shape) if d is not None]
        cond = f"{v.name}.ndim != {v.ndim}"
        if static and len(static) == v.ndim:
            cond = f"{v.name}.shape != {tuple(v.shape)!r}"
        elif static:
            cond += "".join(f" or {v.name}.shape[{i}] != {d}" for i, d in static)
        self.lines += [f"{v.name} = asarray({v.name}, {dt})",
                       f"if {cond}: _shape_error({v.name!r}, {v.name}, {tuple(v.shape)!r})"]
        if v.symmetric:
            self.out._need([runtime._symmetric_arg])
            self.lines.append(f"_symmetric_arg({v.name}, {v.name!r})")

    def _dispatch(self, s: Dispatch) -> None:
        params = ", ".join(v.name for v in self.plan.inputs)
        test = " or ".join(f"{n}.size >= {KEEP_MIN_SIZE}" for n in s.sized)
        self.lines += [f"if {test}:", f"    return {s.variant}({params})"]

    def _buffers(self, s: Buffers) -> None:
        if s.take:
            self.out._need([runtime._buffers])
        self.lines.append("_s = _buffers(_pool)" if s.take else "_pool.append(_s)")

    def _backward(self, s: Backward) -> None:
        self.lines += ["", "# backward pass"]

    def _differentiates(self, s: Differentiates) -> None:
        """``d/d t3 where t3 = sigmoid t2``, naming only values still held; otherwise
        the forward expression, shortened (it may have been simplified away or
        overwritten)."""
        def held(n: Node) -> str | None:
            name = self.label.get(n.id)
            if name is None or not name.isidentifier() or self.holder.get(name, n.id) != n.id:
                return None
            return name
        origin = s.origin
        name, args = held(origin), [held(i) for i in origin.inputs]
        if name is not None and None not in args:
            self.lines.append(f"# d/d {name} where {name} = {origin.op.name} {' '.join(args)}")
        else:
            self.lines.append(f"# d/d {short_text(origin)}")

    def _pair(self, s: Pair) -> None:
        self.out._need(s.fusion.helpers)
        a, b = s.names
        self.label[s.first.id], self.label[s.second.id] = a, b
        self.holder[a], self.holder[b] = s.first.id, s.second.id
        arg = self._ref(s.first.inputs[0])
        self.lines.append(f"{a}, {b} = {s.fusion.code(arg, s.first, s.second)}")

    def _free(self, s: Free) -> None:
        self.lines.append("del " + ", ".join(s.names))

    def _return(self, s: Return) -> None:
        spelled = {"": "{}", "float": "np.float64({})", "scalar": "np.asarray({})[()]",
                   "copy": "np.array({})"}
        values = [spelled[how].format(self._ref(o)) for o, how in s.values]
        self.lines.append("return " + (values[0] if self.plan.single else ", ".join(values)
                                       + ("," if len(values) == 1 else "")))

    def _compute(self, s: Compute) -> None:
        node, op, name = s.node, s.node.op, s.name
        if s.form == "float":
            expr = op.math.format(*(self._ref(i) for i in node.inputs))
            if name is None:   # written into its user's expression
                self.label[node.id] = expr if _is_atom(expr) else f"({expr})"
            else:
                self.label[node.id] = name
                self.lines.append(f"{name} = {expr}")
            return
        helpers = op.helpers(node) if callable(op.helpers) else op.helpers
        self.out._need(helpers)
        cast = float_arg_needs_cast(node)
        args = [f"np.float64({self._ref(i)})" if i.id in self.body.floats and cast
                else self._ref(i) for i in node.inputs]
        if s.kept is not None:
            self.out._need([runtime._kept])
            self.lines.append(f"{name} = _kept(_s, {s.kept.index}, {_kept_shape(s, args)})")
        self.label[node.id] = name
        self.holder[name] = node.id
        if s.form == "dot":
            self.lines.append(f"{args[0]}.dot({args[1]}, out={name})")
        elif s.form == "steps":
            steps = op.steps(node) if callable(op.steps) else op.steps
            first = steps[0].format(*args, out=f", out={name}" if s.target else "")
            self.lines.append(f"{first}  # {op.name}" if s.target
                              else f"{name} = {first}  # {op.name}")
            self.lines += [step.format(*args, o=name) for step in steps[1:]]
        elif s.form == "block":
            self.lines += op.block(name, args, node).splitlines()
        elif s.form == "out":
            self.lines.append(op.out(args, node, name))
        else:
            self.lines.append(f"{name} = {op.code(args, node)}")


def _kept_shape(s: Compute, args: list[str]) -> str:
    if s.kept.static is not None:
        return repr(s.kept.static)
    if s.kept.like is not None:
        return f"{args[s.kept.like]}.shape"
    return f"({args[0]}.shape[0], {args[1]}.shape[1])"


def _is_atom(expr: str) -> bool:
    """True for ``name``, ``f(...)`` and ``(...)`` when one bracket pair spans the end."""
    if expr.replace("_", "").replace(".", "").isalnum():
        return True
    if not expr.endswith(")"):
        return False
    depth = 0
    for k, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and ch == ")":
            return k == len(expr) - 1
    return False


def _indent(lines: list[str], level: int) -> list[str]:
    pad = "    " * level
    return [pad + line if line else "" for line in lines]


def docstring(plan: Plan) -> str:
    """Inputs and outputs with their types; outputs as expressions, gradients as
    ``d(cost) / dx``, each shortened."""
    shown: list[Node] = []
    for o in plan.documented:
        g = meta(o, "grad_of")
        shown += [g[0], g[1]] if g is not None else [o]
    texts = iter(shorten(t, DOC_WIDTH) for t in to_texts(shown, 500))
    lines = ["Generated by symdiff.", "", "Inputs:"]
    lines += [f"    {v.name}: {type_str(v)}{', symmetric' if v.symmetric else ''}"
              for v in plan.inputs]
    lines.append("Returns:")
    for o in plan.documented:
        what = next(texts)
        if meta(o, "grad_of") is not None:
            what = f"d({what}) / d{next(texts)}"
        lines.append(f"    {type_str(o)}: {what}")
    return "\n    ".join(line.replace('"""', "'''").replace("\\", "\\\\") for line in lines)
