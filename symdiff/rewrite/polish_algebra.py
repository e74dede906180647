"""A small exact algebra of scalar expressions, for printing derivatives short.

The command line prints a scalar derivative in the shortest form it can find
(``polish_rules`` searches the forms). This module gives the forms a common
ground: an expression is read into a sum of terms, each a coefficient times a
product of powers of *atoms*, the same way SymPy's ``Add``/``Mul``/``Pow`` do.

Conventions
- A ``Poly`` is an immutable sum: a tuple of ``(monomial, coefficient)`` pairs in a
  fixed order. A monomial is a tuple of ``(atom, exponent)`` pairs; an exponent is
  a nonzero ``Fraction`` (an ``int`` when integral: equal, and far quicker to
  hash). A coefficient is exact likewise when the float in the graph is exactly a
  small fraction (``0.5``, ``1/3``, ``2``), a float otherwise (``log(2)``).
- An atom is a tuple: ``("var", name)``, ``("fn", name, args, attrs)`` for an op on
  scalars (``sin(u)``, its arguments ``Poly``s), ``("base", poly)`` for a sum (or an
  unsplittable product) under a power, and ``("node", text)`` for a subexpression
  kept as it is (``where``, comparisons), known by its text.
- Only identities that hold for every real input are used, with one allowance:
  a form may be finite where the original is not (``x/x -> 1`` at ``x = 0``), never
  the other way round, and never another finite value. Hence a fractional power of
  a product is not split (``sqrt(x*y)``), and ``(a**2)**(1/2)`` is kept (it is ``|a|``).
- Every ordering is by text, never by node ids, so the output is the same in every
  process.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Union

Number = Union[int, Fraction, float]
ONE = Fraction(1)
MAX_TERMS = 40     # expansions beyond this are not worth printing


class TooLarge(Exception):
    """An expansion would pass ``MAX_TERMS`` terms."""


def exact(x):
    """An integral Fraction as an int (hashed and compared far faster, equal to it)."""
    return int(x.numerator) if isinstance(x, Fraction) and x.denominator == 1 else x


def is_exact(x) -> bool:
    return isinstance(x, (int, Fraction)) and not isinstance(x, bool)


def number(v: float) -> Number:
    """A float as an exact small fraction when it is one (``0.5``, ``1/3``, ``2``)."""
    if is_exact(v):
        return exact(v)
    if v != v or v in (float("inf"), float("-inf")):
        return float(v)
    f = Fraction(v).limit_denominator(1000)
    return exact(f) if float(f) == v else float(v)


def ratio(a: Number, b: Number) -> Number:
    """``a / b``, exact when both are (``1/3``, not 0.333...)."""
    return exact(Fraction(a) / b) if is_exact(a) and is_exact(b) else a / b


def tidy(c: Number) -> Number:
    return number(c) if isinstance(c, float) else exact(c)


@lru_cache(maxsize=4096)
def key(obj) -> str:
    """A deterministic sort key (text, never node ids)."""
    if isinstance(obj, tuple):
        return "(" + ",".join(key(o) for o in obj) + ")"
    return repr(obj)


# -- sums --------------------------------------------------------------------------

def poly(terms: dict) -> tuple:
    """A Poly from ``{monomial: coefficient}`` (zero terms dropped, order fixed)."""
    items = [(m, tidy(c)) for m, c in terms.items() if c != 0]
    if len(items) > MAX_TERMS:
        raise TooLarge
    return tuple(sorted(items, key=lambda mc: key(mc[0])))


def const(c: Number) -> tuple:
    return poly({(): c})


def atom_poly(a: tuple, e: Fraction = ONE) -> tuple:
    return (((a, exact(Fraction(e))),), 1),


def as_number(p: tuple) -> Number | None:
    if not p:
        return Fraction(0)
    if len(p) == 1 and p[0][0] == ():
        return p[0][1]
    return None


def add(*ps: tuple) -> tuple:
    terms: dict = {}
    for p in ps:
        for m, c in p:
            terms[m] = terms.get(m, 0) + c
    return poly(terms)


def scale(p: tuple, c: Number) -> tuple:
    return poly({m: k * c for m, k in p})


def neg(p: tuple) -> tuple:
    return scale(p, -1)


def mono_mul(a: tuple, b: tuple) -> tuple:
    """The product of two monomials: exponents of one atom add (``x * x**-1`` is 1)."""
    exps: dict = {}
    for atom, e in a + b:
        exps[atom] = exps.get(atom, 0) + e
    merged = _merge_exps(_merge_powers([(t, exact(e)) for t, e in exps.items() if e != 0]))
    return tuple(sorted(merged, key=lambda ae: key(ae[0])))


def _merge_powers(items: list) -> list:
    """``b**k * b**E -> b**(E + k)`` and ``b**E * b**F -> b**(E + F)`` for an atom ``b``,
    symbolic exponents E, F and integer k: equal wherever both sides are finite, and
    the left side is NaN (``0*0**-1``) wherever the two differ."""
    powers = [(t, e) for t, e in items if t[0] == "fn" and t[1] == "pow"
              and e.denominator == 1 and len(t[2][0]) == 1 and t[2][0][0][1] == 1
              and len(t[2][0][0][0]) == 1 and t[2][0][0][0][0][1] == 1]
    if not powers:
        return items
    out = dict(items)
    for t, e in powers:
        if t not in out:
            continue
        base = t[2][0][0][0][0][0]           # the atom b of b**E
        exponent = scale(t[2][1], e)
        del out[t]
        for u, k in list(out.items()):
            if u == base and k.denominator == 1:
                exponent = add(exponent, const(k))
                del out[u]
            elif (u[0] == "fn" and u[1] == "pow" and u[2][0] == t[2][0]
                  and k.denominator == 1):
                exponent = add(exponent, scale(u[2][1], k))
                del out[u]
        n = as_number(exponent)
        if n is not None and is_exact(n):
            if n != 0:
                out[base] = out.get(base, 0) + n
        else:
            atom = ("fn", "pow", (t[2][0], exponent), t[3])
            out[atom] = out.get(atom, 0) + 1
    return [(t, e) for t, e in out.items() if e != 0]


def _merge_exps(items: list) -> list:
    """``exp(a)*exp(b) -> exp(a + b)`` (exact for every real a and b)."""
    exps = [(t, e) for t, e in items if t[0] == "fn" and t[1] == "exp" and e.denominator == 1]
    if len(exps) < 2:
        return items
    rest = [(t, e) for t, e in items if not (t[0] == "fn" and t[1] == "exp"
                                             and e.denominator == 1)]
    arg = add(*[scale(t[2][0], e) for t, e in exps])
    if not arg:
        return rest
    return rest + [(("fn", "exp", (arg,), ()), ONE)]


def mul(a: tuple, b: tuple) -> tuple:
    terms: dict = {}
    if len(a) * len(b) > MAX_TERMS:
        raise TooLarge
    for ma, ca in a:
        for mb, cb in b:
            m = mono_mul(ma, mb)
            terms[m] = terms.get(m, 0) + ca * cb
    return poly(terms)


def power(p: tuple, e: Fraction) -> tuple:
    """``p ** e`` for a rational ``e``, split only where that is exact (see module doc)."""
    e = Fraction(e)
    if e == 0:
        return const(ONE)
    n = as_number(p)
    if n is not None:
        return _number_power(n, e)
    if len(p) == 1:
        (m, c), = p
        coeff = _number_power(c, e)
        splits = e.denominator == 1 or (len(m) == 1 and not _even(m[0][1]) and c > 0)
        if splits and as_number(coeff) is not None:
            return scale(poly({tuple((a, exact(k * e)) for a, k in m): 1}), as_number(coeff))
        return atom_poly(("base", p), e)
    # A sum under a power is kept whole (expand() opens positive integer powers).
    content, rest = primitive(p, e)
    base = atom_poly(("base", rest), e)
    return scale(base, content) if content != 1 else base


def _even(k: Fraction) -> bool:
    return k.denominator == 1 and k.numerator % 2 == 0


def _number_power(c: Number, e: Fraction) -> tuple:
    """``c ** e`` as a number when it is exactly one (``(1/4)**(-1/2) = 2``), else an atom."""
    if is_exact(c) and (c > 0 or e.denominator == 1):
        if c == 0:
            return const(Fraction(0)) if e > 0 else atom_poly(("base", const(c)), e)
        num, den = _root(abs(c.numerator), e.denominator), _root(c.denominator, e.denominator)
        if num is not None and den is not None:
            r = Fraction(num, den) ** e.numerator
            return const(r if c > 0 or e.numerator % 2 == 0 else -r)
    if isinstance(c, float) and c > 0 and e.denominator == 1:
        return const(float(c) ** int(e))
    return atom_poly(("base", const(c)), e)


def _root(n: int, k: int) -> int | None:
    r = round(n ** (1.0 / k))
    for cand in (r - 1, r, r + 1):
        if cand >= 0 and cand ** k == n:
            return cand
    return None


def primitive(p: tuple, e: Fraction) -> tuple[Number, tuple]:
    """``p`` as ``content * rest`` with ``rest`` having integer coefficients of gcd 1 and a
    positive leading term, so that ``p**e == content**e * rest**e`` holds exactly and
    the power of ``content`` is a number; ``(1, p)`` when there is no such split."""
    coeffs = [c for _, c in p]
    if not all(is_exact(c) for c in coeffs):
        return 1, p
    from math import gcd, lcm
    den = 1
    for c in coeffs:
        den = lcm(den, c.denominator)
    g = 0
    for c in coeffs:
        g = gcd(g, (c * den).numerator)
    content = Fraction(g, den)
    if leading(p)[1] < 0:
        content = -content
    if content == 1:
        return 1, p
    for c in (content, -content, Fraction(1)):   # a negative one only for integer powers
        factor = as_number(_number_power(c, e))
        if factor is not None and c != 1:
            return factor, scale(p, ratio(1, c))
    return 1, p


def degree(m: tuple) -> Fraction:
    return sum((e for _, e in m), Fraction(0))


def leading(p: tuple) -> tuple:
    """The leading term: highest total degree, then first by text."""
    return max(p, key=lambda mc: (degree(mc[0]), _rev(key(mc[0]))))


def _rev(s: str) -> tuple:
    return tuple(-ord(ch) for ch in s)


def expand(p: tuple) -> tuple:
    """``p`` with every sum under a small positive integer power multiplied out."""
    out = const(Fraction(0))
    for m, c in p:
        term = const(c)
        for a, e in m:
            if a[0] == "base" and e.denominator == 1 and 0 < e <= 6 and len(a[1]) > 1:
                inner = expand(a[1])
                for _ in range(int(e)):
                    term = mul(term, inner)
            else:
                term = mul(term, atom_poly(a, e))
        out = add(out, term)
    return out


def divide(n: tuple, d: tuple) -> tuple | None:
    """The exact quotient of two polynomials (nonnegative integer exponents), or None.

    Multivariate division by the leading term; succeeds only when ``d`` divides ``n``."""
    if not d:
        return None
    q = const(Fraction(0))
    r = n
    lm, lc = leading(d)
    for _ in range(MAX_TERMS):
        if not r:
            return q
        rm, rc = leading(r)
        quotient = mono_mul(rm, tuple((a, -e) for a, e in lm))
        if any(e < 0 or e.denominator != 1 for _, e in quotient):
            return None
        t = poly({quotient: ratio(rc, lc)})
        q = add(q, t)
        r = add(r, neg(mul(t, d)))
    return None
