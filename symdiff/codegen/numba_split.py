"""A fused region over arrays cut at its ops with a split form (``Op.numba_split``:
``exp``, ``sigmoid``): a loop up to the op's ``pre`` (written to an array), NumPy's
vectorized ufunc over that array in place, then a loop that starts with the op's
``post`` of it. Numba's scalar ``exp`` is ~8 ns an element against ~0.8 for NumPy's
(``sigmoid(X @ W1 + b1)``, 256x256: 283 against 54 us for the exponentials alone)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..ir import Node
from .numba_regions import Region
from .plan import KEEP_MIN_SIZE


class Stub:
    """A stand-in for a node in a segment's loop (what ``kernel_source`` reads): the
    array of a split op's ``pre`` (then of the ufunc's values), or the op itself
    reading that array."""

    def __init__(self, id: int | str, node: Node, inputs: tuple, spelling: str,
                 name: str) -> None:
        self.id, self.node, self.inputs = id, node, inputs
        self.before = isinstance(id, str)   # the array before the ufunc
        self.shape, self.ndim, self.dtype = node.shape, node.ndim, np.dtype("float64")
        self.op = SimpleNamespace(name=name, numba=spelling)
        self.array_name: str | None = None   # the array's name in the generated code


def splits(region: Region) -> list[Node]:
    """The members of an array region computed in two loops around a ufunc."""
    if not region.shape:
        return []
    return [m for m in region.members if m.op.numba_split is not None
            and m.id not in region.sums and m.dtype == np.float64]


def segments(region: Region, cut: list[Node]) -> list[tuple[Region, Stub | None]]:
    """The region's loops in order, each with the array its last member writes for
    the ufunc that follows it (None for the last loop). A split member ``m`` ends one
    loop as a stub with ``m``'s ``pre`` and starts the next as a stub of ``m``'s id
    (so later members read it) with ``post`` of that array."""
    cut_ids = {m.id for m in cut}
    loops: list[tuple[list, Stub | None]] = []
    current: list = []
    for m in region.members:
        if m.id not in cut_ids:
            current.append(m)
            continue
        pre, ufunc, post = m.op.numba_split
        # (its id names its value in the loop: v<id>)
        array = Stub(f"{m.id}x", m, m.inputs, pre, f"{m.op.name} before {ufunc}")
        loops.append((current + [array], array))
        current = [Stub(m.id, m, (array,), post, f"{m.op.name} after {ufunc}")]
    loops.append((current, None))
    made = []
    for members, array in loops:
        sub = Region(members[0])
        for m in members[1:]:
            sub.add(m)
        sub.shape = region.shape
        sub.sums = {m.id for m in members if m.id in region.sums}
        made.append((sub, array))
    return made


class SplitKernels:
    """The Numba printer's part that prints a region cut at its split ops."""

    def _worth_splitting(self, region: Region) -> bool:
        """Big arrays (or of unknown size) in a plan not compiled whole. A plan compiled
        whole keeps one loop, in its body and in its steps run from Python for big
        operands: the cut loops would be more kernels to compile (mlp_small, cold:
        ~0.45 s of ~3.1 s), and where they ran (mlp_mnist's 256x256 sigmoid) the NumPy
        variant measured as fast, so the trial ran either."""
        if None not in region.shape and np.prod(region.shape) < KEEP_MIN_SIZE:
            return False
        return not self.whole

    def _split_calls(self, region: Region, cut: list[Node]) -> list[str] | None:
        """The lines of a region cut at its split ops (``numba_split``), or None when a
        loop would have no operand giving its lengths."""
        from .numba_printer import kernel_source, loop_extents   # (a cycle)
        parts = segments(region, cut)
        self.c_order |= {a.id for _, a in parts if a is not None}   # kernels write them
        built = []
        for k, (sub, array) in enumerate(parts):
            later = {i.id for part, _ in parts[k + 1:] for m in part.members for i in m.inputs}
            outs = [m for m in sub.members if m is array or self.read_outside.get(m.id)
                    or m.id in self.returned or m.id in later]
            try:   # named when called ("\0" until then: a loop seen before keeps its name)
                source, externals = kernel_source("\0", sub, outs, self._contiguous)
                loop_extents(sub, externals)
            except AssertionError:
                return None
            built.append((sub, outs, (source, externals), array))
        lines = []
        for sub, outs, made, array in built:
            if array is None:
                lines.append(self._kernel_call(sub, outs, made))
                continue
            ufunc = array.node.op.numba_split[1]
            name = array.array_name = f"{self._name_of(array.node)}_{ufunc.rsplit('.')[-1]}"
            lines += [self._kernel_call(sub, outs, made), f"{ufunc}({name}, out={name})"]
        return lines
