"""Code generation: a graph becomes one straight-line NumPy function.

- One statement per node, in topological order; temporaries are named by the
  generator (``t0, t1, ...``), never by user strings. User names appear only as
  parameters, after being checked as identifiers.
- Each op's code comes from its entry in the op table; NumPy-only helpers that a
  template calls (``_logsumexp``) are emitted at the top of the source, so the
  source stands alone with only NumPy.
- Derivative nodes are grouped under a comment naming the forward step they
  differentiate, so ``f.source`` reads as the forward pass then the backward pass.
- The memory plan (liveness analysis) lets elementwise results write into dead
  temporaries of the same shape and dtype (``np.multiply(a, b, out=t3)``, or
  ``t3 *= b`` in place), and ``del``s an array temporary after its last use so
  its memory is back before later arrays are made. Nodes computed from inputs
  alone (``0.0002 * W1``) are placed just before their first user.
  Outputs are never reused as buffers and never alias an input, a constant or
  another output, so a later call cannot change what an earlier call returned.
- Some pairs of ops on one operand are computed by one call (``FUSED_PAIRS`` in
  the op table): ``logsumexp`` and the ``softmax`` of its gradient share their
  exponentials.
- The source is registered with ``linecache`` so tracebacks and
  ``inspect.getsource`` show it; compiled functions are cached by graph and types.
"""
from __future__ import annotations

import keyword
import linecache
import math
import re
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from .errors import CompileError
from .ir import Node, Var, fmt_shape, gc_paused, meta, same_shape, toposort
from .printing import short_text, to_text, type_str
from .ops.table import FUSED_PAIRS

# Ops whose result may share memory with an input: never written into, and copied
# when returned if they could alias an input or a constant.
VIEW_OPS = {"getitem", "transpose", "reshape", "reshape_like", "broadcast_to",
            "broadcast_like", "expand_dims", "squeeze", "concat_part"}
# Ops whose 0-d result is a 0-d array or a Python float rather than a NumPy scalar (so
# are ops on literals alone): a 0-d output is returned as a NumPy scalar whatever made it.
ARRAY_0D_OPS = VIEW_OPS | {"where", "astype", "zeros_like", "shape_size", "embed",
                           "concat_pad", "clip"}
RESERVED = {"np", "math", "float", "ndarray", "asarray", "_shape_error"}
_CACHE: "OrderedDict[tuple, Function]" = OrderedDict()
_CACHE_SIZE = 256
_counter = 0


class Function:
    """A compiled function: call it with arrays; ``.source`` is the generated code."""

    def __init__(self, inputs: list[Var], outputs: list[Node], single: bool, source: str,
                 fn: Any, name: str) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.single = single
        self.source = source
        self.name = name
        self._fn = fn
        self.__doc__ = fn.__doc__

    def __call__(self, *args, **kwargs):  # replaced per function by the generated code
        return self._fn(*args, **kwargs)

    def release_buffers(self) -> None:
        """Free the temporaries kept for the next call (the next call makes new ones)."""
        pool = self._fn.__globals__.get("_pool")
        if pool is not None:
            pool.clear()

    @property
    def kept_bytes(self) -> int:
        """Bytes of the temporaries kept for the next call (one call's set)."""
        pool = self._fn.__globals__.get("_pool") or [{}]
        return max(sum(a.nbytes for a in kept.values()) for kept in list(pool))

    def __repr__(self) -> str:
        params = ", ".join(f"{v.name}: {type_str(v)}" for v in self.inputs)
        return f"<symdiff.Function {self.name}({params})>"

    def _repr_html_(self) -> str:
        # Highlighted with Pygments when it is there (it comes with IPython).
        from html import escape
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            return f"<pre><code class='language-python'>{escape(self.source)}</code></pre>"
        return highlight(self.source, PythonLexer(), HtmlFormatter(noclasses=True))


def function(inputs: Sequence[Var] | Var, outputs: Sequence[Node] | Node, *,
             optimize: bool = True, name: str | None = None) -> Function:
    """Compile ``outputs`` as a NumPy function of ``inputs`` (positional in this order,
    or by name). One output gives one array, a list gives a tuple."""
    inputs = [inputs] if isinstance(inputs, Node) else list(inputs)
    single = isinstance(outputs, Node)
    outputs = [outputs] if single else list(outputs)
    from .ir import as_node
    outputs = [as_node(o) for o in outputs]
    _check_inputs(inputs, outputs)
    key = (tuple(v.id for v in inputs), tuple(o.id for o in outputs), single, optimize, name)
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    with gc_paused():
        return _compile(inputs, outputs, single, optimize, name, key)


def _compile(inputs, outputs, single, optimize, name, key) -> Function:
    graph = outputs
    if optimize:
        from .rewrite import simplify
        graph = simplify(outputs)
    fname = name or _function_name(inputs, outputs)
    source, namespace = generate(inputs, graph, fname, single, documented=outputs)
    global _counter
    _counter += 1
    filename = f"<symdiff-{_counter}:{fname}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    exec(code, namespace)  # only code we generated from the graph
    # A class per function whose __call__ is the generated code: no wrapper per call.
    cls = type("Function", (Function,), {"__call__": staticmethod(namespace[fname]),
                                         "__module__": __name__})
    fn = cls(inputs, outputs, single, source, namespace[fname], fname)
    _CACHE[key] = fn
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return fn


def _check_inputs(inputs: list, outputs: list[Node]) -> None:
    names: dict[str, Var] = {}
    for v in inputs:
        if not isinstance(v, Var):
            raise CompileError(f"function inputs must be variables, got {v!r}")
        if not v.name.isidentifier() or keyword.iskeyword(v.name) or v.name in RESERVED:
            raise CompileError(f"input name {v.name!r} cannot be a parameter name; "
                               f"use a Python identifier other than {sorted(RESERVED)}")
        if v.name in names:
            if names[v.name] is v:
                raise CompileError(f"input {v.name!r} is listed twice")
            raise CompileError(f"two different inputs are named {v.name!r} "
                               f"({type_str(names[v.name])} and {type_str(v)})")
        names[v.name] = v
    for node in toposort(outputs):
        if isinstance(node, Var):
            known = names.get(node.name)
            if known is None:
                raise CompileError(f"the outputs depend on {node.name!r} ({type_str(node)}), "
                                   f"which is not among the inputs "
                                   f"[{', '.join(names) or 'none'}]")
            if known is not node:
                raise CompileError(f"two different variables are named {node.name!r}: "
                                   f"{type_str(known)} (an input) and {type_str(node)}")


def _function_name(inputs: list[Var], outputs: list[Node]) -> str:
    wrt = []
    for o in outputs:
        g = meta(o, "grad_of")
        if g is not None and g[1].op.name == "var" and g[1].name not in wrt:
            wrt.append(g[1].name)
    if wrt:
        values = any(meta(o, "grad_of") is None for o in outputs)
        name = ("value_and_grad_" if values else "grad_") + "_".join(wrt)
    else:
        name = "f_" + "_".join(v.name for v in inputs) if inputs else "f"
    name = name[:60]
    return name if name.isidentifier() and not keyword.iskeyword(name) else "f"


def _literal(value: np.ndarray) -> str | None:
    """A Python literal for a 0-d constant, or None when it needs a name."""
    if value.shape != ():
        return None
    v = value.item()
    if isinstance(v, bool):
        return repr(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "np.inf" if v > 0 else "(-np.inf)"
        if math.isnan(v):
            return "np.nan"
    if value.dtype.kind == "f" and value.dtype != np.float64:
        return None   # keep float32 constants float32
    text = repr(v)
    return f"({text})" if text.startswith("-") else text


class _Names:
    """Temporaries t0, t1, ... that never collide with a parameter name."""

    def __init__(self, taken: set[str]) -> None:
        self.taken, self.n = taken, 0

    def new(self, prefix: str = "t") -> str:
        while True:
            name = f"{prefix}{self.n}"
            self.n += 1
            if name not in self.taken:
                return name


def generate(inputs: list[Var], outputs: list[Node], fname: str, single: bool,
             documented: list[Node] | None = None,
             keep_buffers: bool = True) -> tuple[str, dict]:
    """The source of the function and the namespace it runs in.

    0-d float64 nodes whose op has a ``math`` form are computed on Python floats
    (NumPy's 0-d calls cost ~20x more). Where Python's ``math`` raises (a domain
    error, an overflow, a division by zero) NumPy returns inf or nan instead, so
    such a function carries a NumPy-only twin that the call falls back to.
    """
    namespace: dict[str, Any] = {"np": np, "math": math, "ndarray": np.ndarray,
                                 "asarray": np.asarray, "_shape_error": _shape_error,
                                 "_scalar_arg": _scalar_arg}
    doc = _docstring(fname, inputs, documented or outputs)
    params = ", ".join(v.name for v in inputs)
    helpers: list[str] = []
    order = toposort(outputs)
    computed = [n for n in order if n.inputs]
    on_floats = sum(1 for n in computed if _on_floats(n))
    # A NumPy twin doubles the source: worth it for scalar-heavy code only.
    scalars = on_floats >= MIN_FLOAT_NODES or (computed and on_floats == len(computed))
    body, used_scalars = _emit(inputs, outputs, single, namespace, helpers, scalars=scalars)
    kept_body = None
    if keep_buffers and not used_scalars:
        kept_body, _ = _emit(inputs, outputs, single, namespace, helpers, scalars=False,
                             keep_buffers=True)
        if "_s = _buffers(_pool)" not in kept_body:
            kept_body = None
    if kept_body is not None:
        namespace.update(_pool=[], _buffers=_buffers, _kept=_kept)
        # Lengths known only at run time: big arguments take the variant that keeps its
        # big temporaries between calls, small ones the plain code (keeping costs a
        # little per array, which only pays when allocating is what costs).
        sized = [v.name for v in inputs if v.ndim >= 2 and None in v.shape]
        if not sized:
            body = kept_body
        else:
            variant = f"_{fname}_kept"
            test = " or ".join(f"{n}.size >= {KEEP_MIN_SIZE}" for n in sized)
            body, _ = _emit(inputs, outputs, single, namespace, helpers, scalars=False,
                            dispatch=[f"if {test}:", f"    return {variant}({params})"])
    if not used_scalars:
        parts = [f"def {fname}({params}):", f'    """{doc}"""', *_indent(body, 1)]
        if kept_body is not None and body is not kept_body:
            parts += ["", "", f"def {variant}({params}):",
                      '    """The same computation, keeping big temporaries between calls."""',
                      *_indent(kept_body, 1)]
    else:
        twin = f"_{fname}_numpy"
        safe, _ = _emit(inputs, outputs, single, namespace, helpers, scalars=False)
        parts = [f"def {fname}({params}):", f'    """{doc}"""', "    try:", *_indent(body, 2),
                 "    except (ArithmeticError, ValueError):",
                 "        # Python's math raised where NumPy gives inf or nan: redo it in NumPy.",
                 f"        return {twin}({params})", "", "",
                 f"def {twin}({params}):",
                 '    """The same computation in NumPy only (for inf/nan results)."""',
                 *_indent(safe, 1)]
    source = "".join(h.strip("\n") + "\n\n\n" for h in helpers) + "\n".join(parts) + "\n"
    return source, namespace


def _indent(lines: list[str], level: int) -> list[str]:
    pad = "    " * level
    return [pad + line if line else "" for line in lines]


def _emit(inputs: list[Var], outputs: list[Node], single: bool, namespace: dict,
          helpers: list[str], scalars: bool, keep_buffers: bool = False,
          dispatch: Sequence[str] = ()) -> tuple[list[str], bool]:
    """The body's statements; True when some node was computed on Python floats."""
    names = _Names({v.name for v in inputs} | set(namespace))
    label: dict[int, str] = {v.id: v.name for v in inputs}
    order = _late_leaves(toposort(outputs), outputs)
    consumers: dict[int, list[Node]] = {}
    for node in order:
        for i in node.inputs:
            consumers.setdefault(i.id, []).append(node)
    on_floats: set[int] = set()    # nodes whose value is a Python float
    holder: dict[str, int] = {}    # buffer name -> the node whose value it holds now
    depth: dict[int, int] = {}     # nesting of an expression written inline
    output_ids = {o.id for o in outputs}
    body: list[str] = []
    plan = _MemoryPlan(order, outputs)
    fused = _fused_pairs(order, consumers)
    current_origin = None
    backward_started = False

    for v in inputs:
        if scalars and _float_input(v, consumers.get(v.id, [])):
            on_floats.add(v.id)
            body.append(f"if {v.name}.__class__ is not float: "
                        f"{v.name} = _scalar_arg({v.name}, {v.name!r})")
        else:
            body.extend(_input_check(v))
    prologue = len(body)
    body.extend(dispatch)
    for node in order:
        if node.op.name == "var":
            continue
        if node.op.name == "const":
            lit = _literal(node.value)
            if lit is None:
                lit = names.new("c")
                namespace[lit] = node.value
            label[node.id] = lit
            continue
        op = node.op
        statement = None
        if scalars and _on_floats(node):
            on_floats.add(node.id)
            expr = op.math.format(*(label[i.id] for i in node.inputs))
            users = consumers.get(node.id, [])
            depth[node.id] = 1 + max((depth.get(i.id, 0) for i in node.inputs), default=0)
            if (len(users) == 1 and node.id not in output_ids and _on_floats(users[0])
                    and depth[node.id] < MAX_INLINE_DEPTH):
                # Used once, by Python-float code: written into its user's expression.
                label[node.id] = expr if _is_atom(expr) else f"({expr})"
                continue
            depth[node.id] = 0
            statement = expr
        origin = None if meta(node, "forward") else meta(node, "origin")
        if origin is not None and origin is not current_origin:
            if not backward_started:
                body.append("")
                body.append("# backward pass")
                backward_started = True
            body.append(f"# {_backward_comment(origin, label, holder)}")
        current_origin = origin
        if statement is not None:
            name = names.new()
            label[node.id] = name
            body.append(f"{name} = {statement}")
            continue
        if node.id in fused:
            first, second, fusion = fused[node.id]
            if node.id not in label:   # the first of the two: one call computes both
                _add_helper(helpers, fusion.helper)
                a, b = names.new(), names.new()
                label[first.id], label[second.id] = a, b
                holder[a], holder[b] = first.id, second.id
                body.append(f"{a}, {b} = {fusion.code(label[first.inputs[0].id], first, second)}")
            plan.done(node, label)
            continue
        _add_helper(helpers, op.helper(node) if callable(op.helper) else op.helper)
        args = [label[i.id] if i.id not in on_floats or node.dtype in _FLOAT_OK
                else f"np.float64({label[i.id]})" for i in node.inputs]
        steps = op.steps if node.shape != () and node.dtype.kind == "f" else ()
        steps = steps(node) if callable(steps) else steps
        if getattr(op, "overwrites_first", False):
            target = plan.take_first(node, label)
        else:
            target = plan.buffer_for(node, label) if op.out is not None or steps else None
        shape = _kept_shape(node, args) if keep_buffers and target is None else None
        if shape is not None and plan.may_keep(node):
            # A big temporary: its memory is kept for the next call (see _kept).
            target = names.new()
            body.append(f"{target} = _kept(_s, {len(plan.kept)}, {shape})")
            plan.kept.add(target)
            if op.name == "matmul":   # into a C-contiguous buffer of its own dtype
                label[node.id] = target
                holder[target] = node.id
                body.append(f"{args[0]}.dot({args[1]}, out={target})")
                plan.done(node, label)
                continue
        name = target or names.new()
        label[node.id] = name
        holder[name] = node.id
        if steps:
            first = steps[0].format(*args, out=f", out={name}" if target else "")
            body.append(f"{first}  # {op.name}" if target else f"{name} = {first}  # {op.name}")
            body.extend(step.format(*args, o=name) for step in steps[1:])
        elif getattr(op, "block", None) is not None:
            body.extend(op.block(name, args, node).splitlines())
        elif target is not None:
            body.append(op.out(args, node, name))
        else:
            body.append(f"{name} = {op.code(args, node)}")
        plan.done(node, label)

    # Outputs: fresh arrays, never an input, a constant, a view of one, or each other.
    returned, seen = [], set()
    for o in outputs:
        name = label[o.id]
        if o.id in on_floats:
            name = f"np.float64({name})"
        elif o.shape == () and (o.op.name in ARRAY_0D_OPS or _may_alias(o)
                                or all(i.op.name == "const" for i in o.inputs)):
            name = f"np.asarray({name})[()]"   # a NumPy scalar, as reductions give
        elif o.id in seen or _may_alias(o):
            name = f"np.array({name})"
        seen.add(o.id)
        returned.append(name)
    arrays = {label[n.id] for n in order if n.shape != () and n.id not in output_ids
              and not _may_alias(n) and label[n.id].isidentifier()}
    body = _free_dead_arrays(body, arrays - {label[o.id] for o in outputs} - plan.kept)
    if plan.kept:
        # Each call takes a set of kept buffers from the pool and puts it back when
        # done: concurrent calls (threads, recursion) each get a set of their own.
        body.insert(prologue, "_s = _buffers(_pool)")
        body.append("_pool.append(_s)")
    body.append("return " + (returned[0] if single else ", ".join(returned)
                             + ("," if len(returned) == 1 else "")))
    return body, bool(on_floats)


# Buffers kept across calls. A fresh array of a few hundred KB or more is memory
# the allocator maps and, once freed, unmaps again: touching it page-faults on every
# call (~0.9 ms a call in the 784-256-10 MLP, more than all its elementwise work).
# Big temporaries (never outputs) are therefore written into arrays that the
# function keeps: a call takes a set from ``_pool`` and returns it when done.
KEEP_MIN_SIZE = 1 << 14   # elements, when the shape is static (128 KB of float64)


def _buffers(pool: list) -> dict:
    try:
        return pool.pop()
    except IndexError:   # the first call, or every set is in use by another call
        return {}


def _kept(buffers: dict, key: int, shape: tuple) -> np.ndarray:
    array = buffers.get(key)
    if array is None or array.shape != shape:
        array = buffers[key] = np.empty(shape)
    return array


def _kept_shape(node: Node, args: list[str]) -> str | None:
    """The shape of ``node`` as code, when it is a big float64 temporary worth keeping
    and its op can write into a given array; else None."""
    op = node.op
    if node.dtype != np.float64 or node.ndim == 0:
        return None
    if op.name == "matmul":
        # written by ndarray.dot: matmul for operands of at most 2 dimensions, and its
        # out= must have the dtype of the product
        if any(i.ndim > 2 or i.dtype != np.float64 for i in node.inputs):
            return None
    elif not (op.elementwise and (op.out is not None or op.steps)):
        return None
    elif all(i.op.name in ("var", "const") for i in node.inputs):
        return None   # placed next to its user, often to become an output in place
    if None not in node.shape:
        return repr(node.shape) if int(np.prod(node.shape)) >= KEEP_MIN_SIZE else None
    if node.ndim < 2:        # unknown lengths: matrices and up only
        return None
    if op.name == "matmul":
        a, b = node.inputs
        return f"({args[0]}.shape[0], {args[1]}.shape[1])" if a.ndim == b.ndim == 2 else None
    for i, arg in zip(node.inputs, args):
        if i.ndim == node.ndim and same_shape(i.shape, node.shape):
            return f"{arg}.shape"
    return None


def _free_dead_arrays(body: list[str], names: set[str]) -> list[str]:
    """``del`` each array temporary after the last statement that uses it, so that
    its memory is returned before later arrays are made (a dead temporary held
    until the return would add to the peak memory of the call)."""
    last: dict[str, int] = {}
    for k, line in enumerate(body):
        if line.startswith("#") or not line:
            continue
        for word in _WORD.findall(line):
            if word in names:
                last[word] = k
    # After the last assignment nothing new is allocated: no need to free anything there.
    assigned = [k for k, line in enumerate(body) if _ASSIGNMENT.match(line)]
    last_assignment = assigned[-1] if assigned else -1
    dels: dict[int, list[str]] = {}
    for name, k in last.items():
        if k < last_assignment:
            dels.setdefault(k, []).append(name)
    out: list[str] = []
    for k, line in enumerate(body):
        out.append(line)
        if k in dels:
            out.append("del " + ", ".join(sorted(dels[k], key=_temp_number)))
    return out


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*(, [A-Za-z_]\w*)* = ")


def _temp_number(name: str) -> tuple:
    digits = name.lstrip("tc")
    return (len(digits), digits)


def _late_leaves(order: list[Node], outputs: list[Node]) -> list[Node]:
    """``order`` with each node computed from inputs and constants alone moved to just
    before its first user: an array such as ``0.0002 * W1`` then lives only while
    it is needed, not through the whole forward pass (less peak memory)."""
    first_use: dict[int, int] = {}
    for k, node in enumerate(order):
        for i in node.inputs:
            first_use.setdefault(i.id, k)
    output_ids = {o.id for o in outputs}
    deferred: dict[int, list[Node]] = {}
    for node in order:
        if (node.inputs and node.id not in output_ids and node.id in first_use
                and all(i.op.name in ("var", "const") for i in node.inputs)):
            deferred.setdefault(first_use[node.id], []).append(node)
    moved = {n.id for group in deferred.values() for n in group}
    result: list[Node] = []
    for k, node in enumerate(order):
        result.extend(deferred.get(k, ()))
        if node.id not in moved:
            result.append(node)
    return result


def _add_helper(helpers: list[str], source: str) -> None:
    """Add the helper functions of ``source`` that are not there yet (ops share some)."""
    for part in source.strip("\n").split("\n\n\n"):
        if part and part not in helpers:
            helpers.append(part)


def _fused_pairs(order: list[Node], consumers: dict[int, list[Node]]) -> dict[int, tuple]:
    """node id -> (first, second, fusion) for the pairs of ``FUSED_PAIRS`` in the graph."""
    fused: dict[int, tuple] = {}
    for node in order:
        for fusion in FUSED_PAIRS:
            if node.op.name != fusion.first or node.id in fused:
                continue
            for other in consumers.get(node.inputs[0].id, []):
                if (other.op.name == fusion.second and other.id not in fused
                        and fusion.match(node, other)):
                    fused[node.id] = fused[other.id] = (node, other, fusion)
                    break
    return fused


_FLOAT_OK = (np.dtype("float64"), np.dtype("bool"))
MIN_FLOAT_NODES = 8   # fewer 0-d nodes than this stay in NumPy (no twin function)
MAX_INLINE_DEPTH = 6  # Python-float expressions nest at most this deep in one statement


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


def _float_input(v: Var, consumers: list[Node]) -> bool:
    # A Python float is weakly typed: fine wherever the result is float64 anyway.
    return v.shape == () and v.dtype == np.float64 and all(c.dtype in _FLOAT_OK
                                                           for c in consumers)


def _on_floats(node: Node) -> bool:
    return (node.shape == () and node.dtype == np.float64 and node.op.math is not None
            and all(i.shape == () and i.dtype == np.float64 for i in node.inputs))


def _scalar_arg(value: Any, name: str) -> float:
    array = np.asarray(value, np.float64)
    if array.ndim != 0:
        _shape_error(name, array, ())
    return float(array)


def _backward_comment(origin: Node, label: dict[int, str], holder: dict[str, int]) -> str:
    """``d/d t3 where t3 = sigmoid t2``, naming only values still held; otherwise the
    forward expression, shortened (it may have been simplified away or overwritten)."""
    def held(n: Node) -> str | None:
        name = label.get(n.id)
        if name is None or not name.isidentifier() or holder.get(name, n.id) != n.id:
            return None
        return name
    name = held(origin)
    args = [held(i) for i in origin.inputs]
    if name is not None and None not in args:
        return f"d/d {name} where {name} = {origin.op.name} {' '.join(args)}"
    return f"d/d {short_text(origin)}"


def _input_check(v: Var) -> list[str]:
    """Convert an argument to the variable's dtype and check its number of dimensions."""
    dt = f"np.{v.dtype.name}" if v.dtype.name != "bool" else "np.bool_"
    lines = [f"{v.name} = asarray({v.name}, {dt})"]
    static = [(i, d) for i, d in enumerate(v.shape) if d is not None]
    cond = f"{v.name}.ndim != {v.ndim}"
    if static and len(static) == v.ndim:
        cond = f"{v.name}.shape != {tuple(v.shape)!r}"
    elif static:
        cond += "".join(f" or {v.name}.shape[{i}] != {d}" for i, d in static)
    lines.append(f"if {cond}: _shape_error({v.name!r}, {v.name}, {tuple(v.shape)!r})")
    return lines


def _shape_error(name: str, value: np.ndarray, shape: tuple) -> None:
    raise CompileError(f"input {name!r}: expected shape {fmt_shape(shape)}, "
                       f"got {fmt_shape(value.shape)}")


def _may_alias(node: Node) -> bool:
    while node.op.name in VIEW_OPS:
        node = node.inputs[0]
    return node.op.name in ("var", "const")


def _docstring(fname: str, inputs: list[Var], outputs: list[Node]) -> str:
    lines = ["Generated by symdiff.", "", "Inputs:"]
    lines += [f"    {v.name}: {type_str(v)}" for v in inputs]
    lines.append("Returns:")
    for o in outputs:
        g = meta(o, "grad_of")
        if g is not None:
            what = f"d({_short(to_text(g[0], 500))}) / d{_short(to_text(g[1], 500))}"
        else:
            what = _short(to_text(o, 500))
        lines.append(f"    {type_str(o)}: {what}")
    return "\n    ".join(line.replace('"""', "'''").replace("\\", "\\\\") for line in lines)


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


class _MemoryPlan:
    """Liveness of temporaries, so that elementwise ops can write into dead buffers.

    A buffer is free once its last consumer (or the last consumer of a view of it)
    has run. It is reused only for a node of the same shape and dtype, and never
    if it is an output or a view. Shapes with unknown lengths are compared by
    class: an elementwise result has the shape of its full-rank operand, since
    unknown lengths do not broadcast.
    """

    def __init__(self, order: list[Node], outputs: list[Node]) -> None:
        self.position = {n.id: k for k, n in enumerate(order)}
        self.last_use: dict[int, int] = {}
        for k, node in enumerate(order):
            for i in node.inputs:
                self.last_use[i.id] = k
        self.keep = {o.id for o in outputs}
        for node in reversed(order):   # consumers first, so chains of views propagate
            if node.op.name in VIEW_OPS:
                base = node.inputs[0]
                self.last_use[base.id] = max(self.last_use.get(base.id, 0),
                                             self.last_use.get(node.id, len(order)))
                if node.id in self.keep:
                    self.keep.add(base.id)
        self.shape_class: dict[int, Any] = {}
        for node in order:
            self.shape_class[node.id] = self._classify(node)
        self.free: dict[tuple, list[str]] = {}
        self.in_place: set[int] = set()   # buffers handed on to a consumer's result
        self.kept: set[str] = set()       # buffers kept across calls: never an output's

    def _classify(self, node: Node) -> Any:
        if None not in node.shape:
            return node.shape
        if node.op.elementwise:
            for i in node.inputs:
                if i.shape == node.shape:
                    return self.shape_class[i.id]
        if node.op.name in ("broadcast_like", "reshape_like"):
            return self.shape_class[node.inputs[1].id]
        if node.op.name == "zeros_like":
            return self.shape_class[node.inputs[0].id]
        return ("node", node.id)

    def _key(self, node: Node) -> tuple:
        return (self.shape_class[node.id], node.dtype.str)

    def buffer_for(self, node: Node, label: dict[int, str]) -> str | None:
        if not node.op.elementwise or node.shape == ():
            return None
        key = self._key(node)
        # An operand used for the last time here can take the result in place
        # (a ufunc reads each element before writing it).
        k = self.position[node.id]
        for i in node.inputs:
            if (self.last_use.get(i.id) == k and self._reusable(i) and self._key(i) == key
                    and self.may_hold(node, label[i.id])):
                self.in_place.add(i.id)
                return label[i.id]
        pool = [b for b in self.free.get(key, ()) if self.may_hold(node, b)]
        if not pool:
            return None
        self.free[key].remove(pool[-1])
        return pool[-1]

    def may_hold(self, node: Node, buffer: str) -> bool:
        """An output (or what an output views) is never put in a kept buffer."""
        return buffer not in self.kept or node.id not in self.keep

    def may_keep(self, node: Node) -> bool:
        return node.id not in self.keep and node.op.name not in VIEW_OPS

    def take_first(self, node: Node, label: dict[int, str]) -> str | None:
        """The first operand's buffer, when it is used for the last time here."""
        x = node.inputs[0]
        if (self.last_use.get(x.id) == self.position[node.id] and self._reusable(x)
                and x.dtype == node.dtype and all(i is not x for i in node.inputs[1:])
                and self.may_hold(node, label[x.id])):
            self.in_place.add(x.id)
            return label[x.id]
        return None

    def done(self, node: Node, label: dict[int, str]) -> None:
        k = self.position[node.id]
        for i in {i.id: i for i in node.inputs}.values():
            if self.last_use.get(i.id) == k and self._reusable(i) and i.id not in self.in_place:
                self.free.setdefault(self._key(i), []).append(label[i.id])

    def _reusable(self, node: Node) -> bool:
        return (node.op.name not in ("var", "const") and node.op.name not in VIEW_OPS
                and node.id not in self.keep and node.shape != ()
                and (getattr(node.op, "block", None) is None or getattr(node.op, "fresh", False)))


_MODULE_PRELUDE = '''import math

import numpy as np
from numpy import asarray, ndarray


def _shape_error(name, value, shape):
    raise ValueError(f"input {name!r}: expected shape {shape}, got {np.shape(value)}")


def _scalar_arg(value, name):
    array = np.asarray(value, np.float64)
    if array.ndim != 0:
        _shape_error(name, array, ())
    return float(array)
'''


def module_source(inputs: Sequence[Var], outputs: Sequence[Node], name: str, *,
                  doc: str = "", optimize: bool = True) -> str:
    """A standalone Python module (NumPy only) defining ``name(*inputs)`` -> outputs."""
    inputs, outputs = list(inputs), list(outputs)
    _check_inputs(inputs, outputs)
    with gc_paused():
        graph = outputs
        if optimize:
            from .rewrite import simplify
            graph = simplify(outputs)
        source, namespace = generate(inputs, graph, name, single=False, documented=outputs,
                                     keep_buffers=False)
    constants = [f"{key} = np.array({value.tolist()!r}, dtype=np.{value.dtype.name})"
                 for key, value in namespace.items()
                 if isinstance(value, np.ndarray) and key not in ("np",)]
    header = f'"""{doc}"""\n\n' if doc else ""
    return (header + _MODULE_PRELUDE + ("\n" + "\n".join(constants) + "\n" if constants else "")
            + "\n\n" + source)
