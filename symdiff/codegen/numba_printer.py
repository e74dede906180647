"""The Numba printer: the plan of the NumPy code, with its elementwise regions fused
into compiled loops.

What it decides, on the statements of a readable plan (one node per statement):
- Regions: chains of elementwise nodes whose ops have a ``numba`` spelling, on
  float64 and bool values of one loop shape, become one kernel: one loop nest that
  reads each operand element once and writes only the values used outside the
  region. A node joins a region when it reads one of its values (same shape, so the
  same lengths at run time) or, with a fully static shape, when it is that shape.
  A region is emitted at its last node; it is closed (takes no more nodes) as soon
  as a node outside it reads one of its values, so every value is computed before it
  is read.
- A 0-d region (a scalar graph) is one compiled function on floats, spelled for a
  short compile (numba_scalar).
- A full ``sum`` of a region's value is accumulated in the region's loop.
- On big arrays a region is cut at its ops with a split form (exp, sigmoid: NumPy's
  vectorized exp between two loops, ``numba_split.py``).
- Everything else (matrix products stay BLAS, reductions over an axis, ops without
  a ``numba`` form) is the NumPy printer's call, unchanged, except:
  - a fused pair with a Numba form in the op table (logsumexp over the rows of a
    matrix and its softmax: two row kernels around NumPy's vectorized exp);
  - a product of two big matrices, ``measured_dot``: ``a.dot(b)`` or the same
    product computed transposed, whichever the first calls measured faster.
- A region of one node stays NumPy: a lone ufunc is already one pass.
- Memory: kernels write into arrays their caller gives. A big temporary (a kernel's,
  a product's, a lone ufunc's) that no returned value is or views is kept between
  calls (``_kept``, one set per call in flight): fresh arrays of a few hundred KB
  page-fault on every call (368 faults a call on the softmax workload, ~0.3-0.9 ms).
- Whole plans: when every step is a fused region, Python-float math, or an op whose
  NumPy code Numba also compiles (``Op.numba_body``: products, slices, transposes),
  on float64 values, the body after the argument checks is one compiled function
  that calls the kernels: no Python runs between the steps. On small operands that
  glue is most of the time (Mazur's network: 10.1 against 5.5 us a call). Its
  products and sums over an axis call one BLAS function (``Op.numba_code``,
  ``numba_blas.GEMM``) rather than Numba's ``np.dot``, which compiles a subroutine
  per pair of layouts.

Kernels take C-contiguous arrays where that costs nothing (those kernels wrote; the
arguments and vectors through ``np.ascontiguousarray``), other ones of any layout
(``float64[:, :]``); operands all of the loop's shape in C order take one flat loop.
They check at run time the lengths the graph leaves unknown (a mismatch raises
instead of reading out of bounds), and use NumPy's error model (a division by zero
gives inf or nan, as NumPy does).
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

from .. import runtime
from ..ir import Node, Var
from .measured_dot import MEASURED_PRODUCT_MIN, measured_dot
from .numba_blas import GEMM, GEMM_NAME
from .numba_regions import Region as _Region, find_regions, input_ids as _ids
from .numba_scalar import ScalarNames, in_blocks
from .numba_split import SplitKernels, Stub, splits
from .numba_whole import BLAS_MARK, WHOLE_MARK  # noqa: F401 (the source's marks, named here too)
from .numba_whole import POOL, compile_whole, whole_plan
from .numpy_printer import BodyPrinter, function_source
from .plan import KEEP_MIN_SIZE, const_literal
from .statements import Check, Compute, Pair, Plan, Return

_NUMBA_TYPE = {"float64": "float64", "bool": "boolean"}
KERNEL_PREFIX = "_nb"
# Fewer nodes than this stay NumPy: a lone ufunc is already one pass (the op checker
# sets 1, so that every op's kernel spelling is run).
MIN_REGION = 2


def numba_source(plan: Plan) -> tuple[str, dict, int]:
    """The module source of the plan with its fused kernels, the big constants it
    names but does not define, and the number of kernels."""
    kernels: list[str] = []
    pools: list[str] = []

    class Printer(KernelBodyPrinter):
        store = kernels

    Printer.pools = pools
    Printer.known = {}

    def blocks() -> list[str]:
        if not kernels:
            return []
        lists = [f"{p} = []   # sets of big temporaries kept between calls"
                 for p in sorted(set(pools))]
        header = "import math\n\nfrom symdiff.codegen.numba_cache import njit"
        gemm = []
        if any(GEMM_NAME + "(" in k for k in kernels):
            header += "\nfrom symdiff.codegen.numba_dgemm import _dgemm"
            gemm = [GEMM]
        return [header, *lists, *gemm, *kernels]

    source, held = function_source(plan, Printer, blocks)
    return source, held, len(kernels)


class KernelBodyPrinter(SplitKernels, BodyPrinter):
    """The NumPy body printer, with each fused region printed as one kernel call at
    its last node."""

    store: list[str] = []
    pools: list[str] = []   # the module's lists of kept buffer sets
    known: dict[str, str] = {}   # a kernel's source, its name left out -> its name

    def __init__(self, out, body) -> None:
        computes = [s.node for s in body.statements if isinstance(s, Compute)]
        outputs = [o for s in body.statements if isinstance(s, Return) for o, _ in s.values]
        # a whole plan takes every fusable node into a kernel (it is compiled anyway)
        regions = find_regions(computes, outputs, 1)
        self.whole = whole_plan(out.plan, body, regions)
        if not self.whole:
            regions = find_regions(computes, outputs, MIN_REGION)
        self.prologue = 0          # lines of argument checks (they stay Python)
        self.returned_values: tuple = ()
        self.region_of = {m.id: r for r in regions for m in r.members}
        self.anchor = {r.members[-1].id: r for r in regions}
        # who reads each value outside its region (a kernel's outputs are those values)
        self.read_outside: dict[int, bool] = {}
        self.read_by_numpy: set[int] = set()   # values read by NumPy statements
        for s in body.statements:
            nodes = ([s.node] if isinstance(s, Compute) else
                     [s.first, s.second] if isinstance(s, Pair) else [])
            for n in nodes:
                for i in n.inputs:
                    if self.region_of.get(i.id) is not self.region_of.get(n.id):
                        self.read_outside[i.id] = True
                    if n.id not in self.region_of:
                        self.read_by_numpy.add(i.id)
        self.returned = {o.id for o in outputs}
        # what a returned value is or views: never written into a kept buffer
        self.protected = set(self.returned)
        for st in reversed(body.statements):
            if isinstance(st, Compute) and st.node.id in self.protected and st.node.op.view:
                self.protected.add(st.node.inputs[0].id)
        self.kept = 0                        # buffers kept between calls, so far
        self.marks: list[tuple[str, str]] = []   # see _mark
        self.floats_out: set[int] = set()   # 0-d kernel outputs (Python floats)
        self.c_order: set[int] = set()   # arrays known C-contiguous (in every variant)
        super().__init__(out, body)
        if self.whole:
            compile_whole(self, f"{KERNEL_PREFIX}{len(self.store)}")

    def _check(self, s: Check) -> None:
        super()._check(s)
        self.prologue = len(self.lines)

    def _buffer(self, node: Node, shape: str) -> str:
        """An array for ``node``'s value, of the shape written ``shape``: kept between
        calls when it is big (or of unknown size) and no returned value is or views it."""
        dtype = "" if node.dtype == np.float64 else ", np.bool_"
        small = None not in node.shape and np.prod(node.shape) < KEEP_MIN_SIZE
        if small or node.id in self.protected or node.dtype != np.float64:
            return f"np.empty({shape}{dtype})"
        if self.whole:   # compiled: a new array; the steps run from Python keep it
            self.kept += 1
            return self._mark(f"np.empty({shape})", f"_kept(_s, {self.kept - 1}, {shape})")
        return f"_kept(_s, {self._keep()}, {shape})"

    def _mark(self, compiled: str, python: str) -> str:
        """A place in a whole body's lines spelled one way in the compiled function and
        another in its steps run from Python (see ``numba_whole.spell``)."""
        self.marks.append((compiled, python))
        return f"\0{len(self.marks) - 1}\0"

    def _keep(self) -> int:
        """The index of a new kept buffer (the set is taken at the first)."""
        if not self.kept:
            self.out._need([runtime._buffers, runtime._kept])
            self.lines.append(f"_s = _buffers({POOL})")
            self.pools.append(POOL)
        self.kept += 1
        return self.kept - 1

    def _returned(self, values: tuple, refs: list[str]) -> str:
        """The returned values, 0-d ones as NumPy scalars (as the NumPy code gives)."""
        spelled = {"": "{}", "float": "np.float64({})", "scalar": "np.float64({})",
                   "copy": "np.array({})"}
        shown = []
        for (o, how), r in zip(values, refs):
            if o.ndim == 0:
                shown.append(f"np.float64({r})" if o.dtype == np.float64 else f"np.bool_({r})")
            else:
                shown.append(spelled[how].format(r))
        if self.plan.single:
            return shown[0]
        return ", ".join(shown) + ("," if len(shown) == 1 else "")

    def _compute(self, s: Compute) -> None:
        region = self.region_of.get(s.node.id)
        if region is None:
            if not self.whole and self._kept_ufunc(s):
                return
            if self.whole:
                return self._compiled_step(s)
            if not _big_product(s):
                return super()._compute(s)
            self.out._need([measured_dot])
            a, b = (self._ref(i) for i in s.node.inputs)
            self.label[s.node.id] = s.name
            self.holder[s.name] = s.node.id
            small = None not in s.node.shape and np.prod(s.node.shape) < KEEP_MIN_SIZE
            kept = "" if small or s.node.id in self.protected else f", _s, {self._keep()}"
            self.lines.append(f"{s.name} = measured_dot({a}, {b}{kept})")
            return
        if s.node.id in self.anchor:
            self._kernel(region)

    def _compiled_step(self, s: Compute) -> None:
        """A step of a whole body: its NumPy code, or its ``Op.numba_code`` in the
        compiled function; a big product is measured when the steps run from Python."""
        super()._compute(s)
        node = s.node
        compiled = python = self.lines[-1]
        if node.op.numba_code is not None and s.form == "call":
            compiled = f"{s.name} = {node.op.numba_code([self._ref(i) for i in node.inputs], node)}"
        if _big_product(s):
            a, b = (self._ref(i) for i in node.inputs)
            kept = "" if node.id in self.protected else f", _s, {self.kept}"
            self.kept += bool(kept)
            python = f"{s.name} = measured_dot({a}, {b}{kept})"
        if (compiled, python) != (self.lines[-1],) * 2:
            self.lines[-1] = self._mark(compiled, python)

    def _kept_ufunc(self, s: Compute) -> bool:
        """A lone elementwise node (not worth a kernel) whose big float64 temporary is
        written by its ufunc into a kept buffer (``np.add(b, t0, out=...)``)."""
        node = s.node
        if (not node.op.elementwise or node.op.out is None or s.form != "call"
                or node.dtype != np.float64 or not node.ndim or node.id in self.protected
                or (None not in node.shape and np.prod(node.shape) < KEEP_MIN_SIZE)):
            return False
        dims = []
        for d, n in enumerate(node.shape):
            if n is not None:
                dims.append(str(n))
                continue
            for i in sorted(node.inputs, key=lambda i: -i.ndim):   # one that spans the axis
                axis = d - (node.ndim - i.ndim)
                if axis >= 0 and i.shape[axis] is None:
                    dims.append(f"{self._ref(i)}.shape[{axis}]")
                    break
            else:
                return False
        args = [self._ref(i) for i in node.inputs]
        shape = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
        self.lines.append(f"{s.name} = _kept(_s, {self._keep()}, {shape})")
        self.lines.append(node.op.out(args, node, s.name))
        self.c_order.add(node.id)
        self.label[node.id] = s.name
        self.holder[s.name] = node.id
        return True

    def _pair(self, s: Pair) -> None:
        """A fused pair with a Numba form (the op table's): its kernels and calls."""
        x = s.first.inputs[0]
        form = s.fusion.numba and s.fusion.numba(
            f"{KERNEL_PREFIX}{len(self.store)}", self._ref(x), s.first, s.second,
            x.id in self.c_order)
        if not form:
            return super()._pair(s)
        kernels, lines = form
        self.store.append(kernels)
        a, b = s.names
        e = self._buffer(s.second, f"{self._ref(s.first.inputs[0])}.shape")
        self.label[s.first.id], self.label[s.second.id] = a, b
        self.c_order.add(s.second.id)   # written into the array "{e}" given
        self.holder[a], self.holder[b] = s.first.id, s.second.id
        self.lines += lines.format(a=a, b=b, e=e).splitlines()

    def _return(self, s: Return) -> None:
        values = tuple((o, how) for o, how in s.values)
        if self.whole:   # the compiled body returns its values as they are
            self.returned_values = values
            refs = [self._ref(o) for o, _ in values]
            self.lines.append("return " + (refs[0] if self.plan.single else ", ".join(refs)
                                           + ("," if len(refs) == 1 else "")))
            return
        if self.kept:
            self.lines.append(f"{POOL}.append(_s)")
        for o, _ in values:
            if o.id in self.floats_out and o.dtype == np.float64:
                self.label[o.id] = f"np.float64({self.label[o.id]})"
            elif o.id in self.floats_out:
                self.label[o.id] = f"np.bool_({self.label[o.id]})"
        super()._return(s)

    def _kernel(self, region: _Region) -> None:
        outs = [m for m in region.members
                if self.read_outside.get(m.id) or m.id in self.returned]
        cut = splits(region) if self._worth_splitting(region) else []
        steps = self._split_calls(region, cut) if cut else None
        if steps is None:
            self.lines.append(self._kernel_call(region, outs))
        else:
            self.lines += steps
        # A Python float read by NumPy code would be weakly typed: make it float64.
        for m in outs:
            if m.ndim == 0 and m.id in self.read_by_numpy:
                ctor = "np.float64" if m.dtype == np.float64 else "np.bool_"
                self.lines.append(f"{self.label[m.id]} = {ctor}({self.label[m.id]})")
                self.floats_out.discard(m.id)

    def _kernel_call(self, region: _Region, outs: list, made: tuple | None = None) -> str:
        """The line that calls the region's kernel (added to the module's kernels
        unless the same loop is there under another name)."""
        name = f"{KERNEL_PREFIX}{len(self.store)}"
        if made is None:
            source, externals = kernel_source(name, region, outs, self._contiguous)
        else:   # (source, externals) printed with the name "\0"
            source, externals = made[0].replace("\0", name), made[1]
        # The same loop on other operands (the weight decay of each layer) is the same
        # kernel: each costs 0.1-0.2 s to compile.
        same = _renumbered(source.replace(name, "\0"))
        if same in self.known:
            name = self.known[same]
        else:
            self.known[same] = name
            self.store.append(source)
        args = []
        for e in externals:
            ref = self._ref(e)
            if e.ndim == 0 and e.id not in self.floats_out:
                ref = f"float({ref})" if e.dtype == np.float64 else f"bool({ref})"
            elif e.ndim and e.id not in self.c_order and self._contiguous(e):
                ref = f"np.ascontiguousarray({ref})"   # a no-op when it is
            args.append(ref)
        dims = [str(x) if isinstance(x, int) else f"{self._ref(x[0])}.shape[{x[1]}]"
                for x in loop_extents(region, externals)]
        shape = f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"
        args += [self._buffer(m, shape) for m in outs if m.ndim and m.id not in region.sums]
        names = []
        for m in outs:
            tname = self._name_of(m)
            names.append(tname)
            if m.ndim:
                self.c_order.add(m.id)
            self.label[m.id] = tname
            self.holder[tname] = m.id
            if m.ndim == 0:
                self.floats_out.add(m.id)
        fused = sum(not (isinstance(m, Stub) and m.before) for m in region.members)
        return f"{', '.join(names)} = {name}({', '.join(args)})  # {fused} nodes fused"

    def _contiguous(self, e: Node) -> bool:
        """Whether a kernel takes the array ``e`` C-contiguous: values in C order (the
        arrays kernels write), and those almost always so (the function's arguments,
        vectors), which ``np.ascontiguousarray`` gives as they are. Other matrices (a
        product computed transposed, a transpose) would be copied: any layout."""
        return e.id in self.c_order or isinstance(e, Var) or e.ndim == 1

    def _name_of(self, node: Node) -> str:
        if isinstance(node, Stub) and node.array_name:   # a split op's array
            return node.array_name
        for s in self.body.statements:
            if isinstance(s, Compute) and s.node.id == node.id:
                return s.name
        raise AssertionError("a fused node without a statement")


def _renumbered(source: str) -> str:
    """A kernel's source with its locals named by node (``v187``, ``s12``) renamed in
    order of appearance: equal texts, the same loop."""
    names: dict[str, str] = {}
    return re.sub(r"\b[vs]\d+\b", lambda m: names.setdefault(m[0], f"{m[0][0]}#{len(names)}"),
                  source)


def _big_product(s: Compute) -> bool:
    """A product of two float64 matrices, not known to be small, printed as a call."""
    node = s.node
    if (node.op.name != "matmul" or s.form != "call" or s.kept is not None
            or node.ndim != 2 or any(i.ndim != 2 or i.dtype != np.float64 for i in node.inputs)):
        return False
    (m, k), n = node.inputs[0].shape, node.shape[1]
    return None in (m, k, n) or m * k * n >= MEASURED_PRODUCT_MIN


def kernel_source(name: str, region: _Region, outs: list[Node],
                  contiguous: Callable[[Node], bool] = lambda e: False
                  ) -> tuple[str, list[Node]]:
    """The source of one kernel and the nodes it takes as arguments, in order.
    ``contiguous(e)``: the caller gives the array operand ``e`` C-contiguous, so its
    type says so and the loop over it vectorizes (~4x on (p - Y) / n, 4096x10)."""
    loop = region.shape
    k = len(loop)
    externals: list[Node] = []
    seen: set[int] = set()
    for m in region.members:
        for i in m.inputs:
            if i.id in region.ids or i.id in seen:
                continue
            if i.op.name == "const" and i.ndim == 0 and const_literal(i.value) is not None:
                continue
            seen.add(i.id)
            externals.append(i)
    params = {e.id: f"a{j}" for j, e in enumerate(externals)}
    array_outs = [m for m in outs if m.ndim and m.id not in region.sums]
    # array results are written into arrays the caller gives (kept between calls when
    # big: fresh memory page-faults on every call), C-contiguous
    names = [params[e.id] for e in externals] + [f"o{j}" for j in range(len(array_outs))]
    # operands are read, never written: typed read-only, they take np.broadcast_to's
    # views (and NumPy's diagonal) as well as writable arrays, at no cost
    types = [_numba_type(e, bool(e.ndim) and contiguous(e), read_only=True)
             for e in externals] + [_numba_type(m, True) for m in array_outs]
    # C-contiguous operands all of the loop's shape: one flat loop (rows of 10 elements
    # leave the vectorized inner loop little to do: 14 against 34 us on 4096x10)
    flat = k >= 2 and all(contiguous(e) and e.ndim == k and all(
        not (n == 1 and loop[d] != 1) for d, n in enumerate(e.shape))
        for e in externals if e.ndim)
    sig = ", ".join(types)
    lines = [f'@njit("({sig}{"," if len(types) == 1 else ""})", cache=True, '
             f'error_model="numpy", nogil=True)',
             f"def {name}({', '.join(names)}):"]
    body: list[str] = []
    # loop lengths: static, or read from an operand that spans that axis
    extent = {}
    for d, ext in enumerate(loop_extents(region, externals)):
        if isinstance(ext, int):
            body.append(f"n{d} = {ext}")
            extent[d] = None
        else:
            body.append(f"n{d} = {params[ext[0].id]}.shape[{ext[1]}]")
            extent[d] = ext[0].id
    index: dict[int, str] = {}
    for e in externals:
        if e.ndim == 0:
            continue
        idx = []
        for axis, n in enumerate(e.shape):
            d = axis + k - e.ndim
            if n == 1 and loop[d] != 1:
                idx.append("0")
                continue
            idx.append(f"i{d}")
            if (n is None or loop[d] is None) and extent.get(d) != e.id:
                body.append(f"if {params[e.id]}.shape[{axis}] != n{d}:")
                body.append(f'    raise ValueError("{name}: operand lengths differ")')
        index[e.id] = ", ".join(idx)
    for j in range(len(array_outs)):
        for d in range(k):
            body.append(f"if o{j}.shape[{d}] != n{d}:")
            body.append(f'    raise ValueError("{name}: a result of the wrong shape")')
    for s in region.sums:
        body.append(f"s{s} = 0.0")
    out_names = [f"o{j}" for j in range(len(array_outs))]
    if flat:   # 1-d views of the operands and results (C-contiguous: no copy)
        body.append(f"size = {' * '.join(f'n{d}' for d in range(k))}")
        for e in externals:
            if e.ndim:
                body.append(f"{params[e.id]}f = {params[e.id]}.reshape(size)")
                index[e.id] = "i"
                params[e.id] += "f"
        for j in range(len(array_outs)):
            body.append(f"o{j}f = o{j}.reshape(size)")
            out_names[j] = f"o{j}f"
    inner: list[str] = []
    local: dict[int, str] = {}
    scalar = ScalarNames() if k == 0 else None   # see numba_scalar
    for e in externals:
        if e.ndim == 0:
            local[e.id] = params[e.id]
        else:
            local[e.id] = f"x{len(local)}"
            inner.append(f"{local[e.id]} = {params[e.id]}[{index[e.id]}]")
    for m in region.members:
        if m.id in region.sums:
            inner.append(f"s{m.id} += {' * '.join(local[i.id] for i in m.inputs)}")
            continue
        args = [local[i.id] if i.id in local else
                scalar.operand(i) if scalar else const_literal(i.value) for i in m.inputs]
        local[m.id] = f"v{m.id}"
        spelling = scalar.spelling(m.op.numba) if scalar else m.op.numba
        inner.append(f"v{m.id} = {spelling.format(*args)}  # {m.op.name}")
    if scalar:
        inner = scalar.prologue() + in_blocks(inner)
    at = "i" if flat else ", ".join(f"i{d}" for d in range(k))
    for j, m in enumerate(array_outs):
        inner.append(f"{out_names[j]}[{at}] = {local[m.id]}")
    pad = ""
    for d in range(1 if flat else k):
        body.append(f"{pad}for {'i' if flat else f'i{d}'} in range({'size' if flat else f'n{d}'}):")
        pad += "    "
    body += [pad + line for line in inner]
    results = []
    for m in outs:
        if m.id in region.sums:
            results.append(f"s{m.id}")
        elif m.ndim:
            results.append(f"o{[a.id for a in array_outs].index(m.id)}")
        else:
            results.append(local[m.id])
    body.append("return " + ", ".join(results))
    lines += ["    " + line for line in body]
    return "\n".join(lines), externals


def loop_extents(region: _Region, externals: list[Node]) -> list:
    """Per loop axis: its static length, or (operand, axis) that gives it."""
    loop, k = region.shape, len(region.shape)
    extents: list = []
    for d, n in enumerate(loop):
        if n is not None:
            extents.append(n)
            continue
        for e in externals:
            axis = d - (k - e.ndim)
            if axis >= 0 and e.shape[axis] is None:
                extents.append((e, axis))
                break
        else:
            raise AssertionError("a loop length no operand gives")
    return extents


def _numba_type(node: Node, contiguous: bool = False, read_only: bool = False) -> str:
    base = _NUMBA_TYPE[node.dtype.name]
    if node.ndim == 0:
        return base
    if read_only:
        return f"Array({base}, {node.ndim}, {'C' if contiguous else 'A'!r}, readonly=True)"
    axes = [':'] * node.ndim
    if contiguous:
        axes[-1] = '::1'
    return f"{base}[{', '.join(axes)}]"

