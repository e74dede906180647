"""The plan as plain data: what a printer reads.

A ``Plan`` holds up to three ``Body`` records (the function, its NumPy-only
fallback, its copy that keeps buffers); a body is a tuple of statements, each a
frozen record of what to compute and where to put it. ``plan.py`` makes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..ir import Node, Var
from ..ops.reductions import Fusion


@dataclass(frozen=True)
class Check:
    """Convert an argument to its variable's dtype and check its shape; with
    ``as_float``, take a 0-d float64 argument as a Python float instead."""
    var: Var
    as_float: bool = False


@dataclass(frozen=True)
class Dispatch:
    """Arguments with many elements call the copy of the function that keeps buffers."""
    sized: tuple[str, ...]   # the arguments whose size is tested
    variant: str             # that copy's name


@dataclass(frozen=True)
class Buffers:
    """Take a set of kept buffers from the function's pool, or (``take=False``) give
    it back: concurrent calls (threads, recursion) each write into a set of their own."""
    take: bool


@dataclass(frozen=True)
class Backward:
    """The backward pass begins (the first derivative node follows)."""


@dataclass(frozen=True)
class Differentiates:
    """Derivative nodes follow that differentiate the forward step ``origin``."""
    origin: Node


@dataclass(frozen=True)
class Kept:
    """A kept buffer: number ``index`` of the set, of shape ``static`` when known,
    else the shape of operand ``like``, else (neither) the rows of operand 0 by the
    columns of operand 1 (a matrix product)."""
    index: int
    static: tuple | None = None
    like: int | None = None


@dataclass(frozen=True)
class Compute:
    """One node. ``form`` says how:

    - ``"float"``: its op's ``math`` template on Python floats; with ``name`` None it
      is written into its single user's expression instead of a statement;
    - ``"call"``: ``name = <op.code>``, a new array;
    - ``"out"``: ``op.out`` writing into the buffer ``target`` (which is ``name``);
    - ``"steps"``: ``op.steps``, the first making ``name`` or writing into ``target``;
    - ``"block"``: ``op.block``'s statements (``target``: the first operand's buffer,
      updated in place);
    - ``"dot"``: a matrix product written by ``ndarray.dot`` into a kept buffer.
    ``kept`` is set when ``target`` is a buffer kept between calls.
    """
    node: Node
    name: str | None
    form: str
    target: str | None = None
    kept: Kept | None = None


@dataclass(frozen=True)
class Pair:
    """Two nodes of a fused pair computed by one call, into ``names``."""
    first: Node
    second: Node
    fusion: Fusion
    names: tuple[str, str]


@dataclass(frozen=True)
class Free:
    """``del`` these array temporaries: nothing after this statement names them."""
    names: tuple[str, ...]


@dataclass(frozen=True)
class Return:
    """The outputs, each with how it is returned: ``""`` as it is, ``"float"`` a Python
    float as ``np.float64``, ``"scalar"`` a 0-d array as a NumPy scalar, ``"copy"`` a
    copy (it could alias an input, a constant or another output)."""
    values: tuple[tuple[Node, str], ...]


Statement = Union[Check, Dispatch, Buffers, Backward, Differentiates, Compute, Pair, Free,
                  Return]


@dataclass(frozen=True)
class Body:
    """The statements of one function."""
    name: str
    statements: tuple[Statement, ...]
    floats: frozenset[int]   # ids of the nodes (and arguments) that are Python floats
    keeps: bool              # it writes into buffers kept between calls


@dataclass(frozen=True)
class Plan:
    """Everything a printer needs to write the source of a compiled function."""
    name: str
    inputs: tuple[Var, ...]
    outputs: tuple[Node, ...]
    documented: tuple[Node, ...]      # the outputs as the user gave them (the docstring)
    single: bool                      # one output, returned bare
    constants: tuple[tuple[str, Node], ...]   # named constants (the others are literals)
    main: Body
    fallback: Body | None = None      # NumPy only, called when Python's math raises
    kept_variant: Body | None = None  # keeps big temporaries; main calls it for big arguments
    # The main function first tests its arguments' classes and hands arrays of other
    # libraries to ``_other_arrays`` (compiled functions; not standalone modules).
    other_arrays: bool = False
