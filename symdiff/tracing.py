"""Tracing: a function whose source cannot be read, called once on symbolic arguments.

A lambda typed at a plain ``python`` prompt or under ``python -c`` has no source
that ``inspect`` can find, so the front end cannot read it. Such a function is
called instead, once per input signature, with expressions for its arguments:
operators and NumPy's ``__array_ufunc__`` / ``__array_function__`` protocols make
every operation build a node, so the result is the graph the source would give.

Conventions of this module:

* Only what cannot be read is traced; where source exists it is read, which
  gives better error positions and never runs the user's code.
* Python control flow on a traced value (``if x.sum() > 0``, ``while``,
  ``and``/``or``, ``bool(x)``, ``float(x)``, ``int(x)``, ``math.sin(x)``) has no
  answer while tracing. It is a ``DiffError`` naming the line, pointing to
  ``np.where`` or to static arguments (``static_argnums``): never a guess, so
  never a wrong gradient.
* Any other exception raised while tracing is a ``DiffError`` naming the line
  where it was raised in the user's function.
"""
from __future__ import annotations

import inspect
import linecache
import os
import re
import traceback
from typing import Any, Callable

from .errors import DiffError, ParseError, SymdiffError
from .ir import Node

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# How Python names an expression in the TypeError of float(x), int(x), math.sin(x)...
_NODE_TYPE = re.compile(r"\b(?:Node|Var|Const)\b")

# The Node methods that refuse a value-dependent answer.
_REFUSING = frozenset(("__bool__", "__iter__", "__len__", "__index__", "__int__",
                       "__float__"))


def has_source(fn: Callable[..., Any]) -> bool:
    """Whether ``inspect`` can find ``fn``'s source (then the front end reads it)."""
    try:
        inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return False
    return True


def trace(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` on expressions, with errors located in ``fn``'s code."""
    try:
        return fn(*args, **kwargs)
    except SymdiffError as err:
        where = _user_frame(err.__traceback__)
        if where is None or isinstance(err, ParseError):
            raise
        raise type(err)(f"{err} (while tracing {_name(fn)}(), {_describe(where)})") \
            from None
    except RecursionError:
        raise DiffError(f"tracing {_name(fn)}() recursed too deeply") from None
    except Exception as err:  # noqa: BLE001 - every failure of user code is reported
        where = _user_frame(err.__traceback__)
        place = f"at {_describe(where)}" if where is not None else "in its code"
        if _is_control_flow(err):
            raise DiffError(
                f"{_name(fn)}() uses a traced value in Python control flow or a "
                f"conversion to a Python number ({place}); its source cannot be read, so "
                "it is traced on symbolic arguments whose values are unknown. Use "
                "np.where(condition, a, b) for a choice that depends on the values, or "
                "pass a Python value that steers the code as a static argument "
                "(static_argnums=...)") from None
        raise DiffError(f"tracing {_name(fn)}() failed {place}: "
                        f"{type(err).__name__}: {err}") from None


def _is_control_flow(err: BaseException) -> bool:
    if not isinstance(err, TypeError):
        return False
    for frame, _ in traceback.walk_tb(err.__traceback__):
        code = frame.f_code
        if code.co_name in _REFUSING and isinstance(frame.f_locals.get("self"), Node):
            return True
    return bool(_NODE_TYPE.search(str(err)))


def _user_frame(tb: Any) -> tuple[str, int] | None:
    """The innermost frame of the traceback outside symdiff and NumPy."""
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        inside = os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)
        if not inside and f"{os.sep}numpy{os.sep}" not in filename:
            found = (filename, lineno)
    return found


def _describe(where: tuple[str, int]) -> str:
    filename, lineno = where
    text = linecache.getline(filename, lineno).strip()
    return f"line {lineno} of {filename}" + (f": {text}" if text else "")


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)
