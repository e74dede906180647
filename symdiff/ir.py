"""The graph IR: immutable, hash-consed nodes carrying a dtype and a shape.

Conventions
- A node is an op applied to input nodes, with static attributes (``attrs``, a
  sorted tuple of ``(name, value)`` pairs whose values are hashable) and a type:
  a NumPy dtype and a shape. A shape is a tuple of ints or ``None`` (unknown
  until the function is called).
- Nodes are hash-consed: building the same op on the same inputs with the same
  attributes returns the same object, so common subexpressions are shared by
  construction and identity (``is``) is structural equality. Variables are
  hash-consed on (name, dtype, shape), as ``sympy.Symbol`` is on its name.
- Graphs may be built from several threads at once: ids come from one
  ``itertools.count`` (atomic under the GIL) and a new node enters the
  hash-consing table under a lock, so two threads asking for the same node get
  the same object.
- Broadcasting follows NumPy, with one rule for unknown lengths (PyTensor's):
  a ``None`` length is assumed not to be 1, so only static 1s and missing
  leading axes broadcast. Declare a length-1 axis statically to broadcast it.
- ``Node`` is also the user-facing expression type (``symdiff.Expr``): the
  operators and methods below build nodes through the op table.
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import numbers
import threading
import weakref
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .errors import ArgumentError, ArgumentTypeError, ShapeError

Shape = tuple  # tuple[int | None, ...]

# The hash-consing table. Values are weak so unused graphs are freed; a live
# node keeps its inputs alive, so an entry keyed on input ids can't be stale.
_TABLE: "weakref.WeakValueDictionary[tuple, Node]" = weakref.WeakValueDictionary()
_TABLE_LOCK = threading.Lock()      # held while a new node is made and entered
_ids = itertools.count()


class Node:
    """A node of the graph: ``op(*inputs; attrs) -> dtype[shape]``."""

    __slots__ = ("op", "inputs", "attrs", "dtype", "shape", "id", "__weakref__")
    __array_priority__ = 100  # so ndarray <op> Node defers to Node's reflected op

    op: Any
    inputs: tuple
    attrs: tuple
    dtype: np.dtype
    shape: Shape
    id: int

    def __setattr__(self, name, value):
        raise AttributeError("symdiff nodes are immutable")

    # -- attributes ------------------------------------------------------
    def attr(self, name: str, default: Any = None) -> Any:
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int | None:
        if any(d is None for d in self.shape):
            return None
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def vars(self) -> dict[str, "Var"]:
        """The free variables of this expression: name -> Var, sorted by name."""
        found = {n.name: n for n in toposort([self]) if isinstance(n, Var)}
        return dict(sorted(found.items()))

    @property
    def T(self) -> "Node":
        return _f("transpose")(self)

    # -- printing (each op's record says how it prints; printing.py walks) -
    def __str__(self) -> str:
        from .printing import to_text
        return to_text(self)

    def __repr__(self) -> str:
        from .printing import shorten, type_str
        return f"<Expr {type_str(self)}: {shorten(str(self), 60)}>"

    def _repr_latex_(self) -> str:
        from .printing import to_latex
        return "$" + to_latex(self) + "$"

    def __hash__(self) -> int:
        return self.id

    def __eq__(self, other):  # elementwise, as NumPy; identity is `is`
        return _f("equal")(self, other)

    def __ne__(self, other):
        return _f("not_equal")(self, other)

    def __bool__(self):
        raise TypeError("the truth value of a symbolic expression is unknown until it is "
                        "evaluated; use sd.where for conditions")

    def __iter__(self):
        raise TypeError("symbolic expressions are not iterable; index them instead")

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d expression")
        if self.shape[0] is None:
            raise TypeError("len() of an expression whose length is unknown")
        return self.shape[0]

    # -- operators ---------------------------------------------------------
    def __add__(self, o): return _f("add")(self, o)
    def __radd__(self, o): return _f("add")(o, self)
    def __sub__(self, o): return _f("subtract")(self, o)
    def __rsub__(self, o): return _f("subtract")(o, self)
    def __mul__(self, o): return _f("multiply")(self, o)
    def __rmul__(self, o): return _f("multiply")(o, self)
    def __truediv__(self, o): return _f("divide")(self, o)
    def __rtruediv__(self, o): return _f("divide")(o, self)
    def __floordiv__(self, o): return _f("floor_divide")(self, o)
    def __rfloordiv__(self, o): return _f("floor_divide")(o, self)
    def __mod__(self, o): return _f("mod")(self, o)
    def __rmod__(self, o): return _f("mod")(o, self)
    def __pow__(self, o): return _f("power")(self, o)
    def __rpow__(self, o): return _f("power")(o, self)
    def __matmul__(self, o): return _f("matmul")(self, o)
    def __rmatmul__(self, o): return _f("matmul")(o, self)
    def __neg__(self): return _f("negative")(self)
    def __pos__(self): return self
    def __abs__(self): return _f("abs")(self)
    def __lt__(self, o): return _f("less")(self, o)
    def __le__(self, o): return _f("less_equal")(self, o)
    def __gt__(self, o): return _f("greater")(self, o)
    def __ge__(self, o): return _f("greater_equal")(self, o)
    def __getitem__(self, index): return _f("getitem")(self, index)

    # -- NumPy-style methods --------------------------------------------------
    def sum(self, axis=None, keepdims=False): return _f("sum")(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _f("mean")(self, axis, keepdims)
    def prod(self, axis=None, keepdims=False): return _f("prod")(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _f("max")(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _f("min")(self, axis, keepdims)
    def dot(self, other): return _f("dot")(self, other)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _f("reshape")(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _f("transpose")(self, axes or None)

    # -- NumPy protocols: np.exp(expr), np.sum(expr, axis=0) build nodes -----
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import numpy_protocol
        return numpy_protocol.array_ufunc(self, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from . import numpy_protocol
        return numpy_protocol.array_function(self, func, types, args, kwargs)


class Var(Node):
    """A named input. ``Var(name, shape, dtype)`` returns the one variable of that type.

    ``symmetric=True`` declares a matrix (or a stack of them) equal to its transpose in
    the last two axes: compiled code may use it (``S.T`` is ``S``) and refuses an
    argument that is not. Derivatives treat the entries as independent (JAX's
    gradient), at a symmetric point; see ``symdiff.api.matrix``.
    """

    __slots__ = ()

    def __new__(cls, name: str, shape: Iterable = (), dtype: Any = "float64",
                symmetric: bool = False) -> "Var":
        if not isinstance(name, str):
            raise ArgumentTypeError(f"a variable name must be a string, not {name!r}")
        if not name:
            raise ArgumentError("a variable name must not be empty")
        shape = check_shape(shape, what=f"shape of variable {name!r}")
        dtype = np.dtype(dtype)
        attrs: tuple = (("name", name),)
        if symmetric:
            if len(shape) < 2 or None not in shape[-2:] and shape[-1] != shape[-2]:
                raise ShapeError(f"variable {name!r} is declared symmetric but its shape "
                                 f"{fmt_shape(shape)} does not end in a square matrix")
            attrs += (("symmetric", True),)
        return _intern(cls, _VAR, (), attrs, dtype, shape)

    @property
    def name(self) -> str:
        return self.attrs[0][1]

    @property
    def symmetric(self) -> bool:
        """Declared equal to its transpose (in the last two axes)."""
        return len(self.attrs) > 1


class Const(Node):
    """A constant NumPy value (read-only). Small constants print as their value."""

    __slots__ = ()

    def __new__(cls, value: Any, dtype: Any = None) -> "Const":
        array = np.array(value, dtype=dtype)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"constants must be numeric, got dtype {array.dtype}")
        array.setflags(write=False)
        key = (array.dtype.str, array.shape, array.tobytes())
        return _intern(cls, _CONST, (), (("value", _Frozen(array, key)),),
                       array.dtype, array.shape)

    @property
    def value(self) -> np.ndarray:
        return self.attrs[0][1].array


class _Frozen:
    """A hashable wrapper of a read-only array, compared by dtype, shape and bytes."""

    __slots__ = ("array", "key", "_hash")

    def __init__(self, array: np.ndarray, key: tuple) -> None:
        self.array, self.key, self._hash = array, key, hash(key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, _Frozen) and self.key == other.key

    def __repr__(self) -> str:
        return repr(self.array.tolist()) if self.array.size <= 6 else f"array{self.array.shape}"


class _LeafOp:
    """The pseudo-op of leaves, so that every node has ``.op.name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.vjp = self.jvp = None
        self.elementwise = False

    def __repr__(self) -> str:
        return self.name


_VAR, _CONST = _LeafOp("var"), _LeafOp("const")


def _intern(cls, op, inputs: tuple, attrs: tuple, dtype, shape) -> Node:
    key = (cls, op.name, tuple(i.id for i in inputs), attrs, dtype.str, shape)
    node = _TABLE.get(key)
    if node is not None:
        return node
    with _TABLE_LOCK:
        node = _TABLE.get(key)      # another thread may have made it meanwhile
        if node is None:
            node = object.__new__(cls)
            for name, value in (("op", op), ("inputs", inputs), ("attrs", attrs),
                                ("dtype", dtype), ("shape", shape), ("id", next(_ids))):
                object.__setattr__(node, name, value)
            _TABLE[key] = node
    return node


def make_typed(op, inputs: tuple, attrs: tuple, dtype: np.dtype, shape: Shape) -> Node:
    """Build (or find) ``op(*inputs; attrs)`` whose type is known already (``attrs`` a
    sorted tuple of pairs): the rewrites rebuild a node on operands of unchanged types
    without inferring its type again."""
    return _intern(Node, op, inputs, attrs, dtype, shape)


# Annotations on nodes (which forward step a derivative node differentiates, which
# gradient an output is), kept beside the nodes so that nodes stay immutable.
_META: dict[int, dict] = {}


def annotate(node: Node, **items: Any) -> None:
    """Attach metadata to a node; the first value given for a key is kept."""
    meta = _META.get(node.id)
    if meta is None:
        fresh: dict = {}
        meta = _META.setdefault(node.id, fresh)     # one dict, whichever thread comes first
        if meta is fresh:
            weakref.finalize(node, _META.pop, node.id, None)
    for key, value in items.items():
        meta.setdefault(key, value)


def meta(node: Node, key: str, default: Any = None) -> Any:
    return _META.get(node.id, {}).get(key, default)


def next_id() -> int:
    """A mark in the sequence of ids: nodes with ids at or above it are newer. (It takes
    an id no node gets: peeking and putting back could hand one id out twice when
    another thread makes a node in between.)"""
    return next(_ids)


_gc_was_enabled = True
_gc_pauses = 0                   # how many gc_paused blocks are open, in all threads
_gc_lock = threading.Lock()


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while building a large graph: its full
    scans over every live node would make graph work grow faster than linearly.
    Blocks nest and may overlap across threads: the collector comes back on when the
    last one closes, and only if it was on when the first one opened."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def make(op, inputs: Sequence[Node], attrs: dict | tuple = ()) -> Node:
    """Build (or find) the node ``op(*inputs; attrs)``, inferring its type.

    The op's shape rule raises ``ShapeError`` for operands that do not fit.
    """
    inputs = tuple(inputs)
    if isinstance(attrs, dict):
        attrs = tuple(sorted(attrs.items()))
    dtype, shape = op.infer(inputs, dict(attrs))
    return _intern(Node, op, inputs, attrs, np.dtype(dtype), tuple(shape))


# -- shapes -------------------------------------------------------------------

def check_shape(shape: Iterable, what: str = "shape") -> Shape:
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ShapeError(f"{what} must be a tuple of ints or None, not {shape!r}") from None
    for d in shape:
        if d is not None and not (isinstance(d, numbers.Integral) and d >= 0):
            raise ShapeError(f"{what} must be a tuple of non-negative ints or None, "
                             f"not {shape!r}")
    return tuple(None if d is None else int(d) for d in shape)


def broadcast_shapes(*shapes: Shape, op: str = "broadcast") -> Shape:
    """NumPy broadcasting over static shapes; ``None`` lengths are assumed not 1."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(ndim):
        dims = [s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(f"{op}: shapes {' and '.join(fmt_shape(s) for s in shapes)} "
                             f"do not broadcast (axis {axis - ndim})")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def fmt_shape(shape: Shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def same_shape(a: Shape, b: Shape) -> bool:
    """True when two static shapes are certainly equal (unknown lengths match unknown)."""
    return len(a) == len(b) and all(x == y for x, y in zip(a, b))


# -- graph walks ----------------------------------------------------------------

def toposort(outputs: Iterable[Node], known: Iterable[int] = ()) -> list[Node]:
    """All nodes the outputs depend on, inputs before consumers (iterative: deep graphs
    of a million nodes must not overflow the stack). Nodes whose ids are in ``known``
    are taken as done: neither they nor what only they reach are listed."""
    order: list[Node] = []
    seen: set[int] = set(known)
    for root in outputs:
        if root.id in seen:
            continue
        stack: list[tuple[Node, Iterator[Node]]] = [(root, iter(root.inputs))]
        seen.add(root.id)
        while stack:
            node, children = stack[-1]
            for child in children:
                if child.id not in seen:
                    seen.add(child.id)
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def as_node(value: Any, like: Node | None = None) -> Node:
    """Wrap a Python or NumPy value as a ``Const``.

    Python scalars are weakly typed as in NumPy 2 (NEP 50): ``x32 * 2.0`` stays
    float32, so a Python float takes the floating dtype of ``like``.
    """
    if isinstance(value, Node):
        return value
    if isinstance(value, (bool, np.bool_)):
        return Const(value)
    if isinstance(value, numbers.Number) and not isinstance(value, np.generic):
        if isinstance(value, complex):
            raise TypeError("complex numbers are not supported")
        if like is not None and like.dtype.kind == "f":
            return Const(value, like.dtype)
        if like is not None and like.dtype.kind in "iu" and isinstance(value, numbers.Integral):
            return Const(value, like.dtype)
        return Const(value, "float64" if isinstance(value, float) else None)
    if isinstance(value, (np.ndarray, np.generic, list, tuple)):
        return Const(value)
    raise TypeError(f"cannot use a value of type {type(value).__name__} in an expression")


_FUNCTIONS: dict | None = None


def _f(name: str):
    """The op table's public function ``name`` (imported late: ops import this module)."""
    global _FUNCTIONS
    if _FUNCTIONS is None:
        from .ops import FUNCTIONS
        _FUNCTIONS = FUNCTIONS
    return _FUNCTIONS[name]
