"""What rebuilding a sum or a product costs, counted before it is built.

``collect_terms`` and ``collect_powers`` decide from a reading's counts alone whether
a rebuild would spend fewer operations than the node's tree: a node already in
canonical form is not rebuilt to find out. The counts are exact: ``rebuild_sum`` and
``rebuild_product`` spend what ``sum_cost`` and ``product_cost`` say (the tests check
it on random forms).
"""
from __future__ import annotations

from typing import Iterable

from ..ir import Node
from .pattern import const_value
from .record import record


@record
class TermCounts:
    """The terms of a sum by the sign of their coefficient, and how many of each a
    rebuild multiplies by their coefficient (one other than 1 and -1, on a term other
    than ``1 / d``, which becomes ``k / d``)."""
    pos: int
    neg: int
    pos_scaled: int
    neg_scaled: int

    def with_term(self, term: Node, k: float) -> TermCounts:
        """These counts and the term ``k * term``."""
        if k > 0:
            return TermCounts(self.pos + 1, self.neg,
                              self.pos_scaled + (k != 1 and not reciprocal(term)),
                              self.neg_scaled)
        if k < 0:
            return TermCounts(self.pos, self.neg + 1, self.pos_scaled,
                              self.neg_scaled + (k != -1 and not reciprocal(term)))
        return self


def count_terms(terms: Iterable[tuple[Node, float]]) -> TermCounts:
    pos = neg = pos_scaled = neg_scaled = 0
    for t, k in terms:
        if k > 0:
            pos += 1
            pos_scaled += k != 1 and not reciprocal(t)
        elif k < 0:
            neg += 1
            neg_scaled += k != -1 and not reciprocal(t)
    return TermCounts(pos, neg, pos_scaled, neg_scaled)


def reciprocal(t: Node) -> bool:
    """``t`` is ``1 / d``."""
    return t.op.name == "div" and const_value(t.inputs[0]) == 1


def sum_cost(c0: float, counts: TermCounts) -> int | None:
    """The operations ``rebuild_sum`` spends on ``c0`` plus the terms counted; None when
    that depends on which negative term comes first (no positive term nor positive
    constant)."""
    if not counts.pos and c0 <= 0 and counts.neg:
        return None
    size = counts.neg + counts.pos_scaled + counts.neg_scaled  # a subtraction per negative term
    if counts.pos or c0 > 0:
        size += counts.pos - 1 + (c0 > 0)                       # the additions
    if c0 < 0 and (counts.pos or counts.neg):
        size += 1
    return size


@record
class FactorCounts:
    """The factors of a product by the sign of their exponent (numerator and
    denominator), and how many of each have an exponent other than 1 and -1 (a power)."""
    num: int
    den: int
    num_powers: int
    den_powers: int

    def with_factor(self, e: float) -> FactorCounts:
        """These counts and a factor of exponent ``e``."""
        if e > 0:
            return FactorCounts(self.num + 1, self.den, self.num_powers + (e != 1),
                                self.den_powers)
        if e < 0:
            return FactorCounts(self.num, self.den + 1, self.num_powers,
                                self.den_powers + (e != -1))
        return self

    def __add__(self, other: FactorCounts) -> FactorCounts:
        return FactorCounts(self.num + other.num, self.den + other.den,
                            self.num_powers + other.num_powers,
                            self.den_powers + other.den_powers)

    def inverted(self) -> FactorCounts:
        """The counts of the reciprocal product (every exponent negated)."""
        return FactorCounts(self.den, self.num, self.den_powers, self.num_powers)


def count_factors(factors: Iterable[tuple[Node, float]]) -> FactorCounts:
    num = den = num_powers = den_powers = 0
    for _, e in factors:
        if e > 0:
            num += 1
            num_powers += e != 1
        elif e < 0:
            den += 1
            den_powers += e != -1
    return FactorCounts(num, den, num_powers, den_powers)


def product_cost(counts: FactorCounts, coef: float) -> int:
    """The operations ``rebuild_product`` spends on ``coef`` times the factors counted."""
    if coef == 0:
        return 0
    num, den = counts.num, counts.den
    size = counts.num_powers + max(num - 1, 0) + counts.den_powers + max(den - 1, 0) \
        + (den > 0)
    if den and not num:
        return size         # k / d: the coefficient is the numerator
    return size + (num > 0 and coef != 1)

