"""Factor rules: rewrite some factors of a product, wherever they sit in it.

A factor rule matches a sub-multiset of a product's factors (read by ``products.py``),
the associative-commutative matching a tree pattern cannot do:
``g * exp(x) * (1 + exp(x))**-1 -> g * sigmoid(x)``, whatever the order and nesting of
the multiplications. The stabilize phase runs them (``stabilize.FACTOR_RULES``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..ir import Node
from .memo import Memo
from .pattern import OpPat, build
from .products import ProductForm, product_reading, rebuild_product


@dataclass
class FactorRule:
    """Rewrite some factors of a product: ``[(pattern, exponent), ...] -> template``
    (the replacement enters with exponent 1), or ``fn(form, like, memo) -> form | None``."""
    name: str
    factors: Sequence[tuple] = ()
    replacement: object = None
    guard: Callable[[dict], bool] | None = None
    fn: Callable | None = None

    def __post_init__(self) -> None:
        # the (op, exponent) of each factor a pattern needs: without them it cannot match
        self.needs = frozenset((p.op, e) for p, e in self.factors if isinstance(p, OpPat))

    def apply(self, form: ProductForm, like: Node, memo: Memo) -> ProductForm | None:
        if self.fn is not None:
            return self.fn(form, like, memo)
        live = [(i, b, e) for i, (b, e) in enumerate(form.factors) if e != 0]
        for env, used in _match_factors(self.factors, live, {}, ()):
            if self.guard is not None and not self.guard(env):
                continue
            try:
                new = build(self.replacement, env, like)
            except Exception:   # a replacement that does not type-check does not apply
                continue
            factors = tuple(f for i, f in enumerate(form.factors) if i not in used)
            return ProductForm(form.coef, (*factors, (new, 1.0)), form.size, True)
        return None


def _match_factors(patterns, live, env, used):
    if not patterns:
        yield env, used
        return
    (pattern, exponent), rest = patterns[0], patterns[1:]
    for i, base, e in live:
        if i in used or e != exponent:
            continue
        for env1 in pattern.match(base, env):
            yield from _match_factors(rest, live, env1, used + (i,))


def factor_rewrite(rules: Sequence[FactorRule]) -> Callable[[Node, Memo], tuple | None]:
    """A product normalizer that applies ``rules``; fires only when one of them does:
    ``rewrite(node, memo) -> (node, names of the rules that fired) | None``."""
    def rewrite(node: Node, memo: Memo):
        if node.dtype.kind != "f":
            return None
        reading = product_reading(node, memo)
        coef = reading.coefficient()
        if coef is None or not reading.factors or not reading.floats:
            return None
        form = reading.form(coef)
        fired = []
        for _ in range(8):
            present = {(b.op.name, e) for b, e in form.factors}
            for r in rules:
                if not r.needs <= present:
                    continue
                new = r.apply(form, node, memo)
                if new is not None:
                    form = new
                    fired.append(r.name)
                    break
            else:
                break
        if not fired:
            return None
        expr, _ = rebuild_product(form, node, memo)
        return expr, fired
    return rewrite
