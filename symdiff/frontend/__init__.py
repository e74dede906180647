"""Front end: text and NumPy-style Python functions -> graph nodes.

    sd.parse("x**2 * sin(x)")
    sd.parse("sum(sigmoid(W @ x + b))", W=(3, 4), x=(4,), b=(3,))
    parse_function(loss, W, x)          # loss's source, read with ast

Conventions of this package:

* Nothing the user wrote is ever run. Text and function source are read with
  ``ast`` and walked by a small interpreter over a whitelist of node kinds and
  names; ``eval``/``exec`` are never called, attributes are looked up only on the
  NumPy namespace aliases and on expressions (``.T``, ``.sum()``, ...), and only
  table functions, a few builtins and the user's own readable functions can be
  called. The code that runs is ours, the core's node builders, and NumPy on
  constants.
* While walking, a value is an expression (``Node``), a constant known at parse
  time (``int``, ``float``, ``bool``, a NumPy scalar or array, ``None``, ``...``,
  a slice, a ``range``, a tuple or list of values), or something callable that
  the front end knows (``Known``, ``Method``, ``UserFunction``), a namespace
  (``Namespace``), or a scalar type (``np.float32``, ``float``: a dtype, as in
  ``x.astype(np.float32)`` and ``x.dtype == np.float64``, and a converter of
  constants). Python's operators are applied to these values exactly as
  Python would apply them, so ``np.exp(W @ x)`` read from source and the same
  line run on variables build the same hash-consed node.
* Positions are those of ``ast``: ``lineno`` 1-based, ``col`` 0-based, counted
  in characters. For a function, they are positions in its file.
* Operator chains (``a + b - ...``, ``a ** b ** ...``, ``- - x``) are walked
  without recursion; other nesting is limited to ``MAX_NESTING`` levels. Text
  too deep for Python's own parser (a sum of 30,000 terms) is split at its
  top-level ``+ -`` (or ``* / @``) and read term by term, up to ``MAX_TERMS``
  terms; longer sums (``"x+" * 300000 + "x"``) are a clear error, found in a
  fraction of a second, rather than seconds of node building.
* Constant folding follows Python, with guards: integer results wider than
  ``MAX_INT_BITS`` bits and non-finite float constants are errors rather than
  hangs or silent infinities (``np.inf`` and ``inf`` written as names are fine).

One job a module, in import order (a module imports only those before it):

============== ==================================================================
values         limits, the kinds of values the walker knows, one parse's state,
               messages about values
operators      Python's operators on those values, with guards on constants
positions      ``Source``: ast positions to user positions, errors with a caret
whitelist      the node kinds, names and literals that are read; the rest refused
constructs     comprehensions, dicts, nested ``def``/``lambda``, lists of expressions
               as arrays: read in function bodies only
namespaces     ``np``, ``math``, ``symdiff``, builtins; a global's meaning
source         a user function's ``def`` or ``lambda``, read from its file
split          the vectorized split of text too deep for Python's parser
walker         ``ExpressionWalker``: one ``eval_<Kind>`` method per expression kind
statements     ``parse_function``, ``Walker``: one method per statement kind
text           ``parse``: text, its names, reading split text term by term
============== ==================================================================
"""
from .namespaces import (FUNCTION_BUILTINS, NUMPY_ALIASES, TEXT_ALIASES, TEXT_BUILTINS,
                         TEXT_CONSTANTS, known_callable)
from .source import unwrap
from .statements import parse_function
from .text import parse
from .values import MAX_CONSTANT_SIZE, MAX_INT_BITS, MAX_NESTING, MAX_TERMS, MAX_UNROLL

__all__ = ["parse", "parse_function", "unwrap", "known_callable", "MAX_NESTING",
           "MAX_UNROLL", "MAX_INT_BITS", "MAX_CONSTANT_SIZE", "MAX_TERMS", "TEXT_ALIASES",
           "NUMPY_ALIASES", "TEXT_CONSTANTS", "FUNCTION_BUILTINS", "TEXT_BUILTINS"]
