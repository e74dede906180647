"""The rule sets, one table per phase, run in this order: canonicalize, stabilize,
specialize.

Each rule's name is the math it states. Rules keep the type of what they
replace (the engine checks dtype and restores shapes), and preserve values
wherever both sides are finite; the stabilize rules exist to make the right-hand
side finite where the left-hand side overflows or divides by zero.

Where the rules are (a new rule goes in the table of its phase, in the module that
holds the phase; a guard used by more than one phase goes in ``guards.py``):

================  =====================  ==================================================
phase             module                 table
================  =====================  ==================================================
canonicalize      ``canonicalize.py``    ``CANONICALIZE``: constant folding, identities,
                                         like terms and powers, structure, operand order
stabilize         ``stabilize.py``       ``STABILIZE``, and ``FACTOR_RULES`` for factors of
                                         a product (ratios of exponentials, NaN-safe
                                         ``where``)
specialize        ``specialize.py``      ``SPECIALIZE``: cheaper forms for the generated
                                         code (``square``, dots, ``outer``...)
================  =====================  ==================================================
"""
from __future__ import annotations

from .canonicalize import CANONICALIZE
from .guards import BROADCASTS, algebra_shape, floating, matrix, same_type_as_node
from .specialize import SPECIALIZE
from .stabilize import FACTOR_RULES, STABILIZE, UNSAFE

PHASES = [CANONICALIZE, STABILIZE, SPECIALIZE]

__all__ = ["PHASES", "CANONICALIZE", "STABILIZE", "SPECIALIZE", "FACTOR_RULES", "UNSAFE",
           "BROADCASTS", "algebra_shape", "floating", "matrix", "same_type_as_node"]
