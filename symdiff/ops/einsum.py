"""``einsum``: NumPy's subscript notation (implicit output and ``...`` included).

Conventions:
- The builder validates the subscripts against the operands and rewrites them in
  an explicit form with letters for ``...`` (``"...ij,...jk->...ik"`` on 3-d operands
  becomes ``"aij,ajk->aik"``); the op's ``subscripts`` attribute is that form.
- A letter repeated inside one operand (a diagonal, ``"ii->"``) is refused: use
  ``diagonal`` or ``trace``.
- The adjoint of operand k is an einsum of the output's adjoint with the other
  operands, into operand k's letters; letters of operand k found nowhere else (summed
  away, ``"ij->i"``) are broadcast back.
- Bad subscripts raise ``ParseError`` with a caret under the offending character.
- Generated code uses ``@``, ``np.tensordot`` (large contractions only) or a
  broadcast product (outer products) where the subscripts are exactly one of those and
  the contracted lengths are known (``np.einsum`` broadcasts a length 1 against n; they
  do not); ``np.einsum`` otherwise (sums of one operand too: it beats ``np.sum``), with
  ``optimize=True`` for three or more operands.
"""
from __future__ import annotations

import string

import numpy as np

from ..errors import ParseError, ShapeError
from ..ir import Node, make
from .core import P_ATOM, Case, Op, register
from .declare import FUNCTIONS, as_nodes, public
from .shape import broadcast_like, expand_dims


def _error(subscripts: str, at: int, message: str) -> ParseError:
    return ParseError(f"einsum: {message}\n    {subscripts}\n    {' ' * at}^")


def parse_subscripts(subscripts: str, ndims: list[int]) -> tuple[list[str], str]:
    """The letters of each operand and of the output, ``...`` replaced by letters."""
    if not isinstance(subscripts, str):
        raise ParseError(f"einsum: the subscripts must be a string, not {subscripts!r}")
    text = subscripts.replace(" ", "")
    for k, ch in enumerate(text):
        if not (ch in string.ascii_letters or ch in ",.->"):
            raise _error(text, k, f"invalid character {ch!r} in the subscripts")
    explicit = "->" in text
    left, _, right = text.partition("->")
    terms = left.split(",")
    if len(terms) != len(ndims):
        raise _error(text, len(left), f"{len(terms)} operand subscripts for {len(ndims)} "
                                      "operands")
    used = set(text) & set(string.ascii_letters)
    spare = [c for c in string.ascii_letters if c not in used]
    ell_len = 0
    for term, nd in zip(terms, ndims):
        if "..." in term:
            ell_len = max(ell_len, nd - (len(term) - 3))
    ell = "".join(spare[:ell_len])
    letters, pos = [], 0
    for term, nd in zip(terms, ndims):
        if term.count(".") not in (0, 3) or ("..." not in term and "." in term):
            raise _error(text, pos + term.find("."), "'.' only as an ellipsis '...'")
        fixed = term.replace("...", "")
        if "..." in term:
            width = nd - len(fixed)
            if width < 0:
                raise _error(text, pos, f"operand of {nd} dimensions has too many subscripts")
            term = term.replace("...", ell[ell_len - width:])
        if len(term) != nd:
            raise _error(text, pos, f"{len(term)} subscripts for an operand of {nd} "
                                    "dimensions")
        for k, ch in enumerate(term):
            if term.count(ch) > 1:
                raise _error(text, pos + k, f"the letter {ch!r} repeats in one operand (a "
                                            "diagonal): use diagonal() or trace()")
        letters.append(term)
        pos += len(fixed) + (3 if "..." in left.split(",")[len(letters) - 1] else 0) + 1
    if explicit:
        out = right
        for k, ch in enumerate(out):
            if ch == ".":
                continue
            if out.count(ch) > 1 or not any(ch in t for t in letters):
                raise _error(text, len(left) + 2 + k,
                             f"output letter {ch!r} is repeated or in no operand")
        out = out.replace("...", ell)
        if "." in out:
            raise _error(text, len(left) + 2 + out.find("."), "'.' only as '...'")
    else:
        counts = {c: sum(t.count(c) for t in letters) for t in letters for c in t}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return letters, out


def _infer(inputs, attrs):
    terms, out = attrs["subscripts"].split("->")
    sizes: dict[str, int | None] = {}
    for term, x in zip(terms.split(","), inputs):
        for ch, d in zip(term, x.shape):
            known = sizes.get(ch)
            if known is not None and d is not None and d != 1 and known != 1 and d != known:
                raise ShapeError(f"einsum: letter {ch!r} has lengths {known} and {d} "
                                 f"in {attrs['subscripts']!r}")
            if known is None or known == 1:
                sizes[ch] = d
    dtype = np.result_type(*(x.dtype for x in inputs))
    return dtype, tuple(sizes[ch] for ch in out)


def _vjp(g, node):
    terms, out = node.attr("subscripts").split("->")
    terms = terms.split(",")
    grads = []
    for k, x in enumerate(node.inputs):
        others = [(t, o) for j, (t, o) in enumerate(zip(terms, node.inputs)) if j != k]
        available = set(out) | {c for t, _ in others for c in t}
        target = "".join(c for c in terms[k] if c in available)
        spec = ",".join([out] + [t for t, _ in others]) + "->" + target
        gk = make(_einsum, [g] + [o for _, o in others], {"subscripts": spec})
        missing = tuple(i for i, c in enumerate(terms[k]) if c not in available)
        if missing:
            gk = broadcast_like(expand_dims(gk, missing), x)
        else:
            gk = _match_broadcast_lengths(gk, x)
        grads.append(gk)
    return tuple(grads)


def _match_broadcast_lengths(gk: Node, x: Node) -> Node:
    """np.einsum broadcasts a letter of length 1 against n: operand k's adjoint is summed
    where x has 1 and the others n, and broadcast where x has n and the others 1 (known
    lengths; unknown ones are left to the caller's reduction to x's shape)."""
    pairs = list(zip(gk.shape, x.shape))
    summed = tuple(i for i, (g, d) in enumerate(pairs) if d == 1 and g is not None and g != 1)
    if summed:
        gk = FUNCTIONS["sum"](gk, axis=summed, keepdims=True)
    if any(g == 1 and d is not None and d != 1 for g, d in zip(gk.shape, x.shape)):
        gk = broadcast_like(gk, x)
    return gk


def _jvp(tangents, node):
    total = None
    for k, t in enumerate(tangents):
        if t is None:
            continue
        inputs = list(node.inputs)
        inputs[k] = t
        term = make(_einsum, inputs, node.attrs)
        total = term if total is None else total + term
    return total


def _batch(args, batched, node):
    terms, out = node.attr("subscripts").split("->")
    used = set(node.attr("subscripts"))
    b = next(c for c in string.ascii_letters if c not in used)
    new_terms = [b + t if isb else t for t, isb in zip(terms.split(","), batched)]
    return make(_einsum, args, {"subscripts": ",".join(new_terms) + "->" + b + out})


def _contracted_sizes_known(terms: list[str], inputs, letters) -> bool:
    """Each contracted letter has one known length in both operands: np.einsum
    broadcasts a length 1 against n, matmul and tensordot refuse it."""
    for ch in letters:
        sizes = {x.shape[t.index(ch)] for t, x in zip(terms, inputs)}
        if None in sizes or len(sizes) != 1:
            return False
    return True


# Below this many multiply-adds np.tensordot's reshapes cost more than np.einsum's
# own loop (measured: 0.45x at 4x4x4 by 4x4x4, 5.5x at 20x20x20 by 20x20x20).
_TENSORDOT_MIN_WORK = 4096


def _faster_form(args: list[str], node) -> str | None:
    """The same contraction by ``@`` (transposes of 2-d operands included),
    ``np.tensordot`` (a large contraction of several letters) or a broadcast product
    (an outer product), which skip einsum's parsing and call BLAS directly; None
    where ``np.einsum`` is as fast or the form does not fit. Floats only."""
    if len(node.inputs) != 2 or any(x.dtype.kind not in "fc" for x in node.inputs):
        return None
    terms, out = node.attr("subscripts").split("->")
    ta, tb = terms.split(",")
    if any(c not in out and not (c in ta and c in tb) for c in ta + tb):
        return None                                     # a letter summed in one operand
    contracted = [c for c in ta if c in tb and c not in out]
    batch = [c for c in ta if c in tb and c in out]
    if not _contracted_sizes_known([ta, tb], node.inputs, contracted):
        return None
    a, b = args
    if len(contracted) == 1 and ta and tb:
        (j,) = contracted
        lead = "".join(batch)
        i, k = ta[len(lead):-1], tb[len(lead) + 1:]
        if (ta == lead + i + j and tb == lead + j + k and out == lead + i + k
                and len(i) <= 1 and len(k) <= 1 and (not lead or (i and k))):
            return f"({a} @ {b})"
        if not batch and len(ta) == len(tb) == 2 and len(out) == 2:
            i, k = ta.replace(j, ""), tb.replace(j, "")
            if out == i + k:
                return (f"({a if ta[1] == j else f'{a}.T'} @ "
                        f"{b if tb[0] == j else f'{b}.T'})")
    if batch:
        return None
    free = "".join(c for c in ta if c not in contracted) + "".join(
        c for c in tb if c not in contracted)
    if free != out:
        return None
    if not contracted:
        if not ta and not tb:
            return None
        if not ta or not tb:   # a 0-d operand, maybe a Python number: a plain product
            return f"({a} * {b})"
        return f"({a}[...{', None' * len(tb)}] * {b})"
    sizes = [x.shape[t.index(c)] for t, x in zip((ta, tb), node.inputs) for c in t]
    if None in sizes or int(np.prod(sizes)) // int(np.prod(
            [node.inputs[0].shape[ta.index(c)] for c in contracted])) < _TENSORDOT_MIN_WORK:
        return None
    axes = (tuple(ta.index(c) for c in contracted), tuple(tb.index(c) for c in contracted))
    return f"np.tensordot({a}, {b}, axes={axes})"


def _code(args, node):
    spec = node.attr("subscripts")
    fast = _faster_form(args, node)
    if fast is not None:
        return fast
    # Three or more operands: let NumPy pick the order of the contractions.
    optimize = ", optimize=True" if len(args) > 2 else ""
    call = f"np.einsum({spec!r}, {', '.join(args)}{optimize})"
    terms, out = spec.split("->")
    # One operand and nothing summed: NumPy returns a view of it; the code owns a copy.
    return f"{call}.copy()" if "," not in terms and len(out) == len(terms) else call


_einsum = register(Op(
    name="einsum", impl=lambda *xs, subscripts: np.einsum(subscripts, *xs),
    infer=_infer, code=_code, vjp=_vjp, jvp=_jvp, batch=_batch,
    text=lambda n, c: (f"einsum({n.attr('subscripts')!r}, "
                       f"{', '.join(c(i, 0) for i in n.inputs)})", P_ATOM),
    latex=lambda n, c: (r"\operatorname{einsum}_{" + n.attr("subscripts").replace("->", r"\to")
                        + r"}\left(" + ", ".join(c(i, 0) for i in n.inputs) + r"\right)",
                        P_ATOM),
    cases=(Case(((2, 3), (3, 4)), {"subscripts": "ij,jk->ik"}),
           Case(((2, 3),), {"subscripts": "ij->i"}),
           Case(((3,), (2, 3), (2,)), {"subscripts": "j,ij,i->"}),
           Case(((2, 2, 3), (2, 3)), {"subscripts": "bij,bj->bi"}))))


@public("einsum")
def einsum(subscripts: str, *operands):
    """``np.einsum(subscripts, *operands)`` (no repeated letter inside one operand)."""
    nodes = as_nodes(list(operands))
    letters, out = parse_subscripts(subscripts, [x.ndim for x in nodes])
    return make(_einsum, nodes, {"subscripts": ",".join(letters) + "->" + out})
