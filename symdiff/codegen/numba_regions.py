"""Fused regions of a body for the Numba printer: chains of elementwise nodes (and the
full sums of their values) that one compiled loop computes (see numba_printer's
module docstring for the rules)."""
from __future__ import annotations

import numpy as np

from ..ir import Node, same_shape

_KERNEL_DTYPES = (np.dtype("float64"), np.dtype("bool"))


class Region:
    def __init__(self, node: Node) -> None:
        self.members: list[Node] = [node]
        self.ids = {node.id}
        self.shape = node.shape
        self.closed = False
        self.sums: set[int] = set()   # members that are full sums (0-d, read outside only)
        self.reads = input_ids(node)       # what its members read

    def add(self, node: Node) -> None:
        self.members.append(node)
        self.ids.add(node.id)
        self.reads |= input_ids(node)

    def absorb(self, other: "Region") -> None:
        self.members += other.members
        self.ids |= other.ids
        self.sums |= other.sums
        self.reads |= other.reads


def fusable(node: Node) -> bool:
    """An elementwise node a kernel can compute."""
    return (node.op.numba is not None and node.dtype in _KERNEL_DTYPES
            and all(i.dtype in _KERNEL_DTYPES and i.ndim <= node.ndim for i in node.inputs)
            and all(_broadcasts(i.shape, node.shape) for i in node.inputs))


def _broadcasts(shape: tuple, loop: tuple) -> bool:
    aligned = loop[len(loop) - len(shape):]
    return all(d == e or d == 1 or d is None or e is None for d, e in zip(shape, aligned))


def _full_sum(node: Node) -> bool:
    """A sum of all elements, or the inner product of two vectors (``a.dot(b)``)."""
    if node.op.name == "matmul":
        return (node.dtype == np.float64 and all(i.ndim == 1 and i.dtype == np.float64
                                                 for i in node.inputs))
    return (node.op.name == "sum" and node.attr("axis") is None and not node.attr("keepdims")
            and node.dtype == np.float64 and node.inputs[0].dtype == np.float64)


def find_regions(computes: list[Node], outputs: list[Node],
                 min_region: int) -> list[Region]:
    """The fused regions of a body, in schedule order; a region of fewer than
    ``min_region`` nodes (full sums not counted) is dropped."""
    region_of: dict[int, Region] = {}
    found: list[Region] = []
    for node in computes:
        sources = []
        for i in node.inputs:
            r = region_of.get(i.id)
            if r is not None and r not in sources:
                sources.append(r)
        joinable = [r for r in sources if not r.closed and node.ndim
                    and same_shape(r.shape, node.shape) and not (r.sums & input_ids(node))]
        target = None
        scalars = [r for r in sources if r.shape == ()]
        if fusable(node):
            if not joinable and node.ndim:
                # a sibling: it reads what the region reads, at the region's shape (so the
                # same lengths at run time), or its shape is static and the region's
                joinable = [r for r in found if not r.closed and same_shape(r.shape, node.shape)
                            and (None not in node.shape or any(
                                i.id in r.reads and same_shape(i.shape, node.shape)
                                for i in node.inputs))][-1:]
            if joinable:
                target = joinable[0]
                target.add(node)
            elif node.ndim == 0 and scalars and not any(r.closed for r in scalars):
                # 0-d: every scalar region this node reads merges into one function
                target = scalars[0]
                for other in scalars[1:]:
                    target.absorb(other)
                    for m in other.members:
                        region_of[m.id] = target
                    found.remove(other)
                target.add(node)
            else:
                target = Region(node)
                found.append(target)
        elif (_full_sum(node) and len(sources) == 1 and not sources[0].closed
              and sources[0].shape != () and all(i.id in sources[0].ids for i in node.inputs)):
            target = sources[0]
            target.add(node)
            target.sums.add(node.id)
        for r in sources:
            if r is not target:
                r.closed = True
        if target is not None:
            region_of[node.id] = target
    return [r for r in found if len(r.members) - len(r.sums) >= min_region
            or any(_reads_product(m) for m in r.members)]


def _reads_product(node: Node) -> bool:
    """A matrix node that reads a product of two matrices: that product may be in
    Fortran order (``measured_dot``), where NumPy's ufunc into a C-ordered result is
    slow (``X @ W + b``, 4096x10: 51-69 us against 20-33 us compiled, and 30 against
    20 us in C order too, the rows being short)."""
    return node.ndim == 2 and any(
        i.op.name == "matmul" and i.ndim == 2 and all(j.ndim == 2 for j in i.inputs)
        for i in node.inputs)


def input_ids(node: Node) -> set[int]:
    return {i.id for i in node.inputs}
