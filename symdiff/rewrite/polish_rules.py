"""The polish of printed scalar derivatives, without SymPy: the shortest of a few
exact forms, by SymPy's count of operations.

``polish_node(e)`` reads a scalar expression into ``polish_algebra``'s sums and
products, and prints it back in each of these forms, keeping the shortest:
- as read, with common factors taken out of sums (``x*exp(x) + exp(x)`` is
  ``(x + 1)*exp(x)``, ``exp(x)/x - exp(x)/x**2`` is ``(x - 1)*exp(x)/x**2``);
- over one denominator, with the factors it shares with the numerator cancelled
  (``(1 - (x + 1)/(x - 3))/(x - 3)`` is ``-4/(x - 3)**2``);
- multiplied out (``(x - 1)*(2*x + 2) + x*(x + 2)`` is ``3*x**2 + 2*x - 2``);
and in every form the identities of ``SUM_RULES`` and ``PRODUCT_RULES`` (double
angles, ``1 + tan(u)**2 = 1/cos(u)**2``, the sigmoid's derivative through cosh,
``sign(u)/abs(u) = 1/u``) replace what they match. Numbers stay exact: ``1/3`` is
written as a division (``x**(-2/3)/3``), fractions with a short decimal as decimals
(``0.5``), other floats as the printer writes them (``log(2)``).

The caller (``symdiff.polish``) checks a form numerically against the expression
before printing it, so a slip here costs readability, never a wrong formula.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

from ..ir import Node, as_node, make, toposort
from ..ops.core import OPS
from . import polish_algebra as A
from .polish_algebra import ONE

Poly = tuple


# -- reading a graph ------------------------------------------------------------------

class _Reader:
    """Reads scalar float nodes into Polys (memoized by node for one expression)."""

    def __init__(self, drop_indicators: bool = False) -> None:
        self.drop = drop_indicators
        self.done: dict[int, Poly] = {}
        self.leaves: dict[tuple, Node] = {}   # the nodes of "var" and "node" atoms

    def __call__(self, node: Node) -> Poly:
        for n in toposort([node], known=self.done):
            self.done[n.id] = self._one(n)
        return self.done[node.id]

    def _one(self, n: Node) -> Poly:
        name = n.op.name
        if n.dtype.kind == "b" and n.shape == () and self.drop:
            return A.const(Fraction(0))
        if n.dtype.kind != "f" or n.shape != ():
            return self._leaf(("node", str(n)), n)
        if name == "var":
            return self._leaf(("var", n.name), n)
        if name == "where" and _is_sign(n):
            return A.atom_poly(("fn", "sign", (self.done[n.inputs[0].inputs[0].id],), ()))
        if name == "const":
            return A.const(A.number(float(n.value)))
        if any(i.dtype.kind != "f" or i.shape != () for i in n.inputs) and name != "add":
            return self._leaf(("node", str(n)), n)
        args = [self.done[i.id] for i in n.inputs]
        if name == "add":
            return A.add(*args)
        if name == "sub":
            return A.add(args[0], A.neg(args[1]))
        if name == "neg":
            return A.neg(args[0])
        if name == "mul":
            return A.mul(*args)
        if name == "div":
            return A.mul(args[0], power(args[1], Fraction(-1)))
        if name == "square":
            return power(args[0], Fraction(2))
        if name == "sqrt":
            return power(args[0], Fraction(1, 2))
        if name == "pow":
            e = A.as_number(args[1])
            if A.is_exact(e):
                return power(args[0], Fraction(e))
        return A.atom_poly(("fn", name, tuple(args), n.attrs))

    def _leaf(self, atom: tuple, n: Node) -> Poly:
        if n.dtype.kind == "b":    # a boolean used as a number: 1.0 or 0.0, as printed
            n = make(OPS["where"], [n, as_node(1.0), as_node(0.0)])
        self.leaves[atom] = n
        return A.atom_poly(atom)


def _is_sign(n: Node) -> bool:
    """``where(u >= 0, 1, -1)``: the sign of u, 1 at 0 (as abs' is there)."""
    c, a, b = n.inputs
    return (c.op.name == "greater_equal" and c.inputs[1].op.name == "const"
            and float(c.inputs[1].value) == 0 and c.inputs[0].dtype.kind == "f"
            and a.op.name == "const" and b.op.name == "const"
            and float(a.value) == 1 and float(b.value) == -1)


def power(p: Poly, e: Fraction) -> Poly:
    """``p**e``, with a sum put over one denominator and its common factor taken out
    first when ``e`` is an integer (``(1 + y**2/x**2)**-1`` is ``x**2*(x**2 + y**2)**-1``,
    ``(x**4 + x**2*y**2)**-1`` is ``x**-2*(x**2 + y**2)**-1``: exact for integer powers)."""
    if e.denominator == 1 and len(p) > 1:
        num, den = together(p)
        content, common, rest = _common_factor(num) if len(num) > 1 else (1, (), num)
        if den or common:
            out = A.mul(A.power(A.poly({common: content}), e), A.power(rest, e))
            return A.mul(out, A.power(A.poly({den: ONE}), -e)) if den else out
    return A.power(p, e)


def together(p: Poly) -> tuple[Poly, tuple]:
    """``p`` as ``num / den``: ``den`` a monomial of the negative powers in ``p`` (integer
    ones), ``num`` a polynomial, less the sum factors of ``den`` that divide it."""
    den: dict = {}
    for m, _ in p:
        for a, e in m:
            if e < 0 and e.denominator == 1:
                den[a] = max(den.get(a, 0), -e)
    if not den:
        return p, ()
    mono = tuple(sorted(((a, A.exact(k)) for a, k in den.items()), key=lambda ae: A.key(ae[0])))
    num = A.expand(A.mul(p, A.poly({mono: ONE})))
    for a, k in list(den.items()):
        if a[0] != "base" or len(a[1]) < 2:
            continue
        base = A.expand(a[1])
        while den[a] > 0:
            q = A.divide(num, base)
            if q is None:
                break
            num, den[a] = q, den[a] - 1
    for a, k in list(den.items()):       # x**2*(...)/x**3 is (...)/x
        if a[0] != "base" and k > 0 and num:
            least = min(dict(m).get(a, 0) for m, _ in num)
            cancel = min(least, k) if getattr(least, "denominator", 1) == 1 else 0
            if cancel > 0:
                num = A.mul(num, A.atom_poly(a, -cancel))
                den[a] = k - cancel
    mono = tuple(sorted(((a, A.exact(k)) for a, k in den.items() if k),
                        key=lambda ae: A.key(ae[0])))
    return num, mono


# -- identities ------------------------------------------------------------------------
# A sum rule maps a sum to an equal Poly, or None; it sees the sum with its common
# factors taken out. A product rule maps a monomial's atoms to an equal Poly, or None.

def _fn(name: str, arg: Poly, like: tuple = ()) -> tuple:
    """The atom ``name(arg)``; an even function's argument with a positive leading term
    (``cosh(-u) = cosh(u)``)."""
    if name in ("cos", "cosh") and arg and A.leading(arg)[1] < 0:
        arg = A.neg(arg)
    return ("fn", name, (arg,), ())


def _matches(p: Poly, template: Poly) -> A.Number | None:
    """The number c with ``p == c*template``, or None."""
    if len(p) != len(template) or not p:
        return None
    first, coefficient = p[0]
    want = dict(template).get(first)
    if want is None:
        return None
    c = A.ratio(coefficient, want)
    return c if A.scale(template, c) == p else None


def _fns(p: Poly, *names: str) -> list[tuple]:
    found = []
    for m, _ in p:
        for a, _e in m:
            if a[0] == "fn" and a[1] in names and a not in found:
                found.append(a)
    return found


def _sum_rule(names: tuple, template: Callable, result: Callable) -> Callable:
    """A rule ``template(u) -> result(u)`` for each atom ``f(u)``, f in names, of the sum."""
    def rule(p: Poly) -> Poly | None:
        for a in _fns(p, *names):
            u = a[2][0]
            c = _matches(p, template(u, a))
            if c is not None:
                return A.scale(result(u, a), c)
        return None
    return rule


def _sq(name: str, u: Poly, like: tuple) -> Poly:
    return A.atom_poly(_fn(name, u, like), Fraction(2))


ONE_P = A.const(ONE)

SUM_RULES = {
    "1 + tan(u)**2 = cos(u)**-2": _sum_rule(
        ("tan",), lambda u, a: A.add(ONE_P, _sq("tan", u, a)),
        lambda u, a: A.atom_poly(_fn("cos", u, a), Fraction(-2))),
    "1 - tanh(u)**2 = cosh(u)**-2": _sum_rule(
        ("tanh",), lambda u, a: A.add(ONE_P, A.neg(_sq("tanh", u, a))),
        lambda u, a: A.atom_poly(_fn("cosh", u, a), Fraction(-2))),
    "cos(u)**2 - sin(u)**2 = cos(2*u)": _sum_rule(
        ("sin", "cos"), lambda u, a: A.add(_sq("cos", u, a), A.neg(_sq("sin", u, a))),
        lambda u, a: A.atom_poly(_fn("cos", A.scale(u, 2), a))),
    "sin(u)**2 + cos(u)**2 = 1": _sum_rule(
        ("sin", "cos"), lambda u, a: A.add(_sq("cos", u, a), _sq("sin", u, a)),
        lambda u, a: ONE_P),
    "cosh(u)**2 - sinh(u)**2 = 1": _sum_rule(
        ("sinh", "cosh"), lambda u, a: A.add(_sq("cosh", u, a), A.neg(_sq("sinh", u, a))),
        lambda u, a: ONE_P),
    "1 - sigmoid(u) = sigmoid(-u)": _sum_rule(
        ("sigmoid",), lambda u, a: A.add(ONE_P, A.neg(A.atom_poly(a))),
        lambda u, a: A.atom_poly(_fn("sigmoid", A.neg(u)))),
}


def _pairs(m: tuple, first: str, second: str, other: Callable) -> tuple | None:
    """Atoms ``first(u)`` and ``second(other(u))`` of ``m`` with positive integer exponents,
    their least exponent, and ``m`` without that much of each."""
    exps = dict(m)
    for a, e in m:
        if a[0] == "fn" and a[1] == first and e.denominator == 1 and e > 0:
            b = _fn(second, other(a[2][0]))
            k = exps.get(b, Fraction(0))
            if k.denominator == 1 and k > 0 and a != b:
                least = min(e, k)
                rest = A.mono_mul(m, ((a, -least), (b, -least)))
                return a, rest, least
    return None


def _double_angle(m: tuple) -> Poly | None:
    """``sin(u)*cos(u) = sin(2*u)/2``."""
    found = _pairs(m, "sin", "cos", lambda u: u)
    if found is None:
        return None
    a, rest, e = found
    double = A.atom_poly(_fn("sin", A.scale(a[2][0], 2)), e)
    return A.scale(A.mul(A.poly({rest: ONE}), double), Fraction(1, 2) ** int(e))


def _sigmoid_pair(m: tuple) -> Poly | None:
    """``sigmoid(u)*sigmoid(-u) = 1/(4*cosh(u/2)**2)`` (the logistic density)."""
    found = _pairs(m, "sigmoid", "sigmoid", A.neg)
    if found is None:
        return None
    a, rest, e = found
    cosh = _fn("cosh", A.scale(a[2][0], Fraction(1, 2)))
    return A.scale(A.mul(A.poly({rest: ONE}), A.atom_poly(cosh, -2 * e)),
                   Fraction(1, 4) ** int(e))


def _sign_abs(m: tuple) -> Poly | None:
    """``sign(u)*abs(u)**k = u**k`` for odd k: equal at every u but 0 (where
    ``1/abs(u)`` is inf, and so is ``1/u``, of u's sign)."""
    for a, e in m:
        if a[0] == "fn" and a[1] == "sign" and e == 1:
            u = a[2][0]
            for b, k in m:
                if b[0] == "fn" and b[1] == "abs" and b[2][0] == u and \
                        k.denominator == 1 and k.numerator % 2:
                    rest = tuple((t, j) for t, j in m if t not in (a, b))
                    return A.mul(A.poly({rest: ONE}), A.power(u, k))
    return None


PRODUCT_RULES = {
    "sin(u)*cos(u) = sin(2*u)/2": _double_angle,
    "sigmoid(u)*sigmoid(-u) = 1/(4*cosh(u/2)**2)": _sigmoid_pair,
    "sign(u)*abs(u)**k = u**k (k odd, u != 0)": _sign_abs,
}


def _apply_product_rules(p: Poly) -> Poly:
    """Every monomial of ``p`` with the product rules applied until none matches."""
    for _ in range(8):
        changed = False
        out = []
        for m, c in p:
            for rule in PRODUCT_RULES.values():
                new = rule(m)
                if new is not None:
                    out.append(A.scale(new, c))
                    changed = True
                    break
            else:
                out.append(A.poly({m: c}))
        p = A.add(*out)
        if not changed:
            return p
    return p


def _apply_sum_rules(p: Poly) -> Poly | None:
    for rule in SUM_RULES.values():
        new = rule(p)
        if new is not None:
            return new
    return None


# -- printing back -----------------------------------------------------------------------

class _Printer:
    """Builds the shortest node for a Poly among the forms (see the module doc)."""

    def __init__(self, leaves: dict) -> None:
        self.leaves = leaves
        self.best: dict[Poly, Node] = {}
        self.busy: set = set()
        self.work = 0     # forms tried; past WORK_LIMIT only the plain forms are built

    def shortest(self, p: Poly, top: bool = False) -> Node:
        if p in self.best:
            return self.best[p]
        if p in self.busy:       # a form of p is being built from p itself
            return self.sum_of_terms(p) if len(p) > 1 else self.direct(p)
        self.busy.add(p)
        self.work += 1
        forms = [self.direct(p)]
        ruled = _apply_product_rules(p)
        if ruled != p:
            forms.append(self.direct(ruled))
        if (len(p) > 1 or top) and self.work < WORK_LIMIT:
            for make_form in (self.over_one_denominator, self.multiplied_out):
                try:
                    form = make_form(p)
                except A.TooLarge:
                    form = None
                if form is not None:
                    forms.append(form)
        node = min(forms, key=cost)       # the first of equals: the form as read
        self.best[p] = node
        self.busy.discard(p)
        return node

    def over_one_denominator(self, p: Poly) -> Node | None:
        num, den = together(_apply_product_rules(p))
        if not den:
            return None
        return self.product(ONE, tuple((a, -e) for a, e in den), num)

    def multiplied_out(self, p: Poly) -> Node | None:
        expanded = A.expand(p)
        return None if expanded == p else self.direct(expanded)

    def direct(self, p: Poly) -> Node:
        if len(p) <= 1:
            (m, c), = p or (((), Fraction(0)),)
            return self.product(c, m, None)
        forms = [self.sum_of_terms(p)]
        replaced = _apply_sum_rules(p)
        if replaced is not None:
            forms.append(self.shortest(replaced))
        content, common, rest = _common_factor(p)
        if common != () or content != 1:
            for sign in (1, -1):
                c, r = content * sign, A.scale(rest, sign)
                if common == () and abs(c) == 1:
                    continue
                replaced = _apply_sum_rules(r)
                if replaced is not None:
                    forms.append(self.shortest(A.mul(A.poly({common: c}), replaced)))
                else:
                    forms.append(self.product(c, common, r))
        if 2 < len(p) <= 8 and self.work < WORK_LIMIT and any(
                a[0] != "var" for m, _ in p for a, _e in m):
            forms += self.grouped(p)   # not polynomials: 3*x**2 + 2*x, not x*(3*x + 2)
        return min(forms, key=cost)

    def grouped(self, p: Poly) -> list[Node]:
        """``p`` as (the terms holding an atom, factored) + (the others): ``1 + x*(1 - s)``."""
        forms = []
        atoms = sorted({a for m, _ in p for a, _e in m}, key=A.key)
        for a in atoms:
            inside = A.poly({m: c for m, c in p if a in dict(m)})
            if 2 <= len(inside) < len(p):
                self.work += 1
                outside = A.poly({m: c for m, c in p if a not in dict(m)})
                forms.append(self.sum_of_terms(outside, self.direct(inside)))
        return forms

    def sum_of_terms(self, p: Poly, out: Node | None = None) -> Node:
        """The terms of ``p`` added one by one (to ``out``, if given)."""
        terms = sorted(p, key=lambda mc: (-A.degree(mc[0]), [_rank(a) for a, _ in mc[0]],
                                          A.key(mc[0])))
        first = next((t for t in terms if not _negative(t[1])), terms[0])
        terms.remove(first)      # a positive term first: a - b rather than -b + a
        terms.insert(0, first)
        for m, c in terms:
            if out is None:
                out = self.product(c, m, None)
            elif _negative(c):
                out = out - self.product(-c, m, None)
            else:
                out = out + self.product(c, m, None)
        return out

    def product(self, c: A.Number, m: tuple, rest: Poly | None) -> Node:
        """``c * m * rest`` as a quotient: numerator factors over denominator factors, in
        SymPy's order (variables, sums, functions). A negative power stays in the
        numerator when it is not a square root's (``x**(-2/3)/3``)."""
        num, den = [], []
        factors = [(_rank(a), A.key(a), a, e) for a, e in m]
        if rest is not None:
            factors.append((1, "", None, ONE))
        for _, _, a, e in sorted(factors, key=lambda f: f[:2]):
            if a is None:
                num.append(self.shortest(rest))
            elif a[0] == "fn" and a[1] == "sigmoid":    # 1/(1 + exp(-u)) as a quotient
                base = self.sigmoid_denominator(a[2][0])
                power = base if abs(e) == 1 else base ** as_node(float(abs(e)))
                (den if e > 0 else num).append(power)
            elif e > 0 or e.denominator > 2:
                num.append(self.atom_power(a, e))
            else:
                den.append(self.atom_power(a, -e))
        negative = _negative(c)
        c = -c if negative else c
        top, bottom = _split_number(c)
        if bottom != 1:
            den.insert(0, as_node(float(bottom)))
        if top != 1 or not num:
            num.insert(0, as_node(float(top) * (-1 if negative else 1)))
            negative = False
        out = num[0]
        if negative:
            out = -out
        for f in num[1:]:
            out = out * f
        if den:
            d = den[0]
            for f in den[1:]:
                d = d * f
            out = out / d
        return out

    def atom_power(self, a: tuple, e: Fraction) -> Node:
        base = self.atom(a)
        if e == 1:
            return base
        if e == Fraction(1, 2):
            return make(OPS["sqrt"], [base])
        return base ** as_node(float(e))

    def sigmoid_denominator(self, u: Poly) -> Node:
        return self.product(ONE, (), None) + make(OPS["exp"], [self.shortest(A.neg(u))])

    def atom(self, a: tuple) -> Node:
        kind = a[0]
        if kind in ("var", "node"):
            return self.leaves[a]
        if kind == "base":
            return self.shortest(a[1])
        name, args, attrs = a[1], a[2], a[3]
        if name == "sigmoid":    # printed as SymPy reads it: 1/(1 + exp(-u))
            return self.product(ONE, (), None) / self.sigmoid_denominator(args[0])
        if name == "sign":
            x = self.shortest(args[0])
            return make(OPS["where"], [make(OPS["greater_equal"], [x, as_node(0.0)]),
                                       as_node(1.0), as_node(-1.0)])
        return make(OPS[name], [self.shortest(arg) for arg in args], attrs)


WORK_LIMIT = 200    # forms per expression: the search stays in milliseconds


def _rank(a: tuple) -> int:
    """The order of factors in a product: variables, sums, then functions."""
    return {"var": 0, "base": 1}.get(a[0], 2)


def _negative(c: A.Number) -> bool:
    return c < 0


def _split_number(c: A.Number) -> tuple:
    """A positive coefficient as (numerator, denominator): ``1/3`` as (1, 3), ``1/4`` as
    (1, 4); a fraction with a short decimal (``1.5``) or any other float as itself over 1."""
    if isinstance(c, Fraction) and c.denominator != 1 and (
            c.numerator == 1 or len(repr(float(c))) > 5):
        return c.numerator, c.denominator
    return (c, 1)


def _common_factor(p: Poly) -> tuple[A.Number, tuple, Poly]:
    """``p`` as ``content * common * rest``: ``common`` the monomial of the least power of
    each atom in every term, ``content`` the sign and gcd of exact coefficients."""
    mins: dict | None = None
    for m, _ in p:
        exps = dict(m)
        if mins is None:
            mins = exps
        else:
            mins = {a: min(e, exps[a]) for a, e in mins.items() if a in exps}
    common = tuple(sorted(((a, e) for a, e in (mins or {}).items()
                           if e.denominator == 1 or e > 0), key=lambda ae: A.key(ae[0])))
    content, _ = A.primitive(p, ONE)
    content = A.as_number(A.const(content)) if A.is_exact(content) else 1
    inverse = tuple((a, -e) for a, e in common)
    rest = A.scale(A.mul(p, A.poly({inverse: ONE})), A.ratio(1, content))
    return content, common, rest


# -- cost: SymPy's count of operations, as it reads the printed text -----------------------

def cost(node: Node) -> int:
    memo: dict[int, int] = {}
    for n in toposort([node]):
        memo[n.id] = _own_cost(n) + sum(memo[i.id] for i in n.inputs)
    return memo[node.id]


def _own_cost(n: Node) -> int:
    name = n.op.name
    if name == "var":
        return 0
    if name == "const":
        v = float(n.value) if n.shape == () else 1.0
        return int(v < 0) + int(_split_number(A.number(abs(v)))[1] != 1 if v else 0)
    if name == "sqrt":
        return 2
    if name == "sigmoid":
        return 4
    if name == "where":
        return 1
    return 1


def polish_node(e: Node, drop_indicators: bool = False) -> Node | None:
    """The shortest form of scalar ``e`` (see the module doc), or None if it cannot be read.

    ``drop_indicators`` reads every boolean used as a number as 0: the terms such as
    ``where(x == 0, 1.0, 0.0)`` that make a power's derivative exact at a zero base.
    The result is then *not* equal to ``e`` in general: the caller keeps it only if
    it agrees with ``e`` at those zeros too (it does for ``x**x``, not ``x**y``)."""
    reader = _Reader(drop_indicators)
    try:
        p = reader(e)
        shortest = _Printer(reader.leaves).shortest(p, top=True)
        return shortest if drop_indicators or cost(shortest) <= cost(e) else e
    except Exception:      # anything this algebra cannot do: symdiff's own text stands
        return None
