"""The expression walker: evaluates whitelisted ast expression nodes to values.

While walking, a value is an expression (``Node``), a constant known at parse
time (``int``, ``float``, ``bool``, a NumPy scalar or array, ``None``, ``...``, a
slice, a ``range``, a tuple or list of values), something callable that the front
end knows (``Known``, ``Method``, ``UserFunction``), a namespace (``Namespace``),
or a scalar type (``np.float32``, ``float``). Python's operators are applied to
these values exactly as Python would apply them, so ``np.exp(W @ x)`` read from
source and the same line run on variables build the same hash-consed node.

Each expression kind is one ``eval_<Kind>`` method; statements and calls of the
user's functions are in ``statements.py``.
"""
from __future__ import annotations

import ast
import inspect
import operator
from typing import Any, Callable

import numpy as np

from .. import members as member_table
from ..errors import DiffError, ParseError, ShapeError, SymdiffError
from . import constructs
from .operators import (BINARY_OPERATORS, COMPARISONS, OPERATOR_TEXT, REFUSED_OPERATORS,
                        apply_operator, check_operand, cmp_text)
from .positions import Source, attribute_position, operator_position
from .values import (MAX_NESTING, SCALAR_TYPES, Context, Known, Method, Namespace, Reject,
                     UserFunction, clean_message, closest, describe, has_expr, is_expr, suggest,
                     table_functions)
from .whitelist import construct

class ExpressionWalker:
    """Evaluates whitelisted ast expressions to values (see the module docstring).

    ``statements.Walker`` extends it with statements and inlined user functions.
    """

    def __init__(self, source: Source, scope: Any, context: Context) -> None:
        self.source = source
        self.scope = scope
        self.context = context

    def inline(self, function: UserFunction, args: list, kwargs: dict,
               node: ast.Call) -> Any:
        """Walk the body of the user's ``function`` called at ``node``: see
        ``statements.Walker``."""
        raise NotImplementedError

    # -- errors -------------------------------------------------------------

    def fail(self, message: str, node: Any) -> ParseError:
        return self.source.error(message, node)

    def guarded(self, node: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call into the core or NumPy; report its errors at ``node``."""
        try:
            return fn(*args, **kwargs)
        except (ParseError, Reject):
            raise
        except (ShapeError, DiffError) as err:
            raise type(err)(f"{err}{self.source.located(node)}") from err
        except SymdiffError:
            raise
        except RecursionError:
            raise self.fail("expression nested too deeply", node) from None
        except NotImplementedError as err:
            raise self.fail(str(err) or "not supported", node) from None
        except (TypeError, ValueError, ArithmeticError, IndexError, KeyError,
                AttributeError) as err:
            raise self.fail(clean_message(err), node) from None

    # -- expressions ----------------------------------------------------------

    def eval(self, node: ast.AST) -> Any:
        context = self.context
        context.depth += 1
        try:
            if context.depth > MAX_NESTING:
                raise self.fail(f"expression nested too deeply (more than {MAX_NESTING} "
                                "levels)", node)
            method = getattr(self, "eval_" + type(node).__name__, None)
            if method is None:
                raise self.fail(f"{construct(node)} is not supported here", node)
            try:
                return method(node)
            except Reject as err:
                raise self.fail(str(err), node) from None
        finally:
            context.depth -= 1

    def eval_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def eval_Name(self, node: ast.Name) -> Any:
        return self.scope.lookup(node.id)

    def eval_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.eval(element) for element in node.elts)

    def eval_List(self, node: ast.List) -> list:
        return [self.eval(element) for element in node.elts]

    def eval_Dict(self, node: ast.Dict) -> dict:
        return constructs.dict_literal(self, node)

    def eval_ListComp(self, node: ast.ListComp) -> Any:
        return constructs.comprehension(self, node)

    eval_GeneratorExp = eval_DictComp = eval_ListComp

    def eval_Lambda(self, node: ast.Lambda) -> Any:
        return constructs.define(self, node)

    def eval_BinOp(self, node: ast.BinOp) -> Any:
        if isinstance(node.op, ast.Pow):
            # a ** b ** c is a ** (b ** c): walk the right spine.
            chain = [node]
            while isinstance(chain[-1].right, ast.BinOp) and isinstance(chain[-1].right.op,
                                                                        ast.Pow):
                chain.append(chain[-1].right)
            result = self.eval(chain[-1].right)
            for link in reversed(chain):
                base = self.eval(link.left)
                result = self.binary(link, base, result)
            return result
        # a + b - c * d ...: walk the left spine.
        chain = [node]
        while isinstance(chain[-1].left, ast.BinOp) and not isinstance(chain[-1].left.op,
                                                                       ast.Pow):
            chain.append(chain[-1].left)
        result = self.eval(chain[-1].left)
        for link in reversed(chain):
            result = self.binary(link, result, self.eval(link.right))
        return result

    def binary(self, node: ast.BinOp, left: Any, right: Any) -> Any:
        kind = type(node.op)
        if kind in REFUSED_OPERATORS:
            raise self.fail(REFUSED_OPERATORS[kind], operator_position(node, self.source))
        try:
            return apply_operator(BINARY_OPERATORS[kind], OPERATOR_TEXT[kind], left, right,
                                  guard=lambda fn, a, b: self.guarded(node, fn, a, b))
        except Reject as err:
            raise self.fail(str(err), operator_position(node, self.source)) from None

    def eval_UnaryOp(self, node: ast.UnaryOp) -> Any:
        chain = [node]
        while isinstance(chain[-1].operand, ast.UnaryOp):
            chain.append(chain[-1].operand)
        value = self.eval(chain[-1].operand)
        for link in reversed(chain):
            kind = type(link.op)
            if kind in REFUSED_OPERATORS:
                raise self.fail(REFUSED_OPERATORS[kind], link)
            if isinstance(link.op, ast.Not):
                value = not self.static(value, link, "'not'")
                continue
            check_operand(value, "-" if isinstance(link.op, ast.USub) else "+")
            if isinstance(link.op, ast.USub):
                value = self.guarded(link, operator.neg, value)
            elif not is_expr(value) or hasattr(type(value), "__pos__"):
                value = self.guarded(link, operator.pos, value)
        return value

    def eval_Compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        operands = [self.eval(right) for right in node.comparators]
        symbolic = is_expr(left) or any(is_expr(value) for value in operands)
        if symbolic and len(operands) > 1:
            raise self.fail("chained comparisons of expressions are not supported; "
                            "compare two values at a time", node)
        result: Any = True
        for op, right in zip(node.ops, operands):
            table_name, python_op = COMPARISONS[type(op)]
            if symbolic:
                if not table_name:
                    raise self.fail(f"'{cmp_text(op)}' cannot compare expressions", node)
                check_operand(left, cmp_text(op))
                check_operand(right, cmp_text(op))
                if isinstance(op, (ast.Eq, ast.NotEq)):
                    return self.guarded(node, table_functions()[table_name], left, right)
                return self.guarded(node, python_op, left, right)
            outcome = self.guarded(node, python_op, left, right)
            if isinstance(outcome, np.ndarray):
                return outcome
            result = outcome
            if not result:
                return result
            left = right
        return result

    def eval_BoolOp(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            truth = self.static(value, operand, "'and'" if is_and else "'or'")
            if truth != is_and:
                return value
        return value

    def eval_IfExp(self, node: ast.IfExp) -> Any:
        test = self.static(self.eval(node.test), node.test, "'... if ... else ...'")
        return self.eval(node.body if test else node.orelse)

    def static(self, value: Any, node: Any, construct: str) -> bool:
        """The truth of a value known while reading; expressions are refused."""
        if is_expr(value):
            raise self.fail(f"{construct} needs a value known while reading, but this "
                            "depends on the inputs; use np.where(condition, a, b), or pass "
                            "a Python value that steers the code as a static argument "
                            "(static_argnums)", node)
        if isinstance(value, np.ndarray) and value.size != 1:
            raise self.fail(f"{construct} on an array with more than one element is "
                            "ambiguous", node)
        return bool(value)

    def eval_Attribute(self, node: ast.Attribute) -> Any:
        owner = self.eval(node.value)
        name_at = attribute_position(node)
        try:
            return self.attribute(owner, node.attr, name_at)
        except Reject as err:
            raise self.fail(str(err), name_at) from None

    def attribute(self, owner: Any, name: str, node: Any) -> Any:
        if isinstance(owner, Namespace):
            if name in owner.members:
                return owner.members[name]
            close = closest(name, list(owner.members))
            hint = f"; did you mean {owner.name}.{close}?" if close else ""
            raise self.fail(f"{owner.name}.{name} is not supported" + hint, node)
        if is_expr(owner) or isinstance(owner, (np.ndarray, np.generic)):
            entry = member_table.MEMBERS.get(name)
            if entry is None:
                raise self.fail(f"the attribute .{name} is not supported; expressions and "
                                f"arrays have {member_table.listing()}"
                                + suggest(name, member_table.MEMBERS), node)
            if entry.method:
                return Method(owner, name)
            return self.guarded(node, member_table.get, owner, entry)
        if isinstance(owner, dict) and constructs.dict_member(owner, name) is not None:
            method = constructs.dict_member(owner, name)
            return Known(f"dict.{name}", method, inspect.signature(method))
        raise self.fail(f"{describe(owner)} has no attribute .{name} that symdiff can read",
                        node)

    def eval_Subscript(self, node: ast.Subscript) -> Any:
        owner = self.eval(node.value)
        if isinstance(owner, dict):
            return constructs.dict_item(self, owner, self.eval(node.slice), node.slice)
        index = self.index(node.slice)
        if owner is np.s_:                 # np.s_[1:, 0] is the index itself
            return index
        if not (is_expr(owner) or isinstance(owner, (tuple, list, np.ndarray, range))):
            raise self.fail(f"{describe(owner)} cannot be indexed", node)
        return self.guarded(node, operator.getitem, owner, index)

    def index(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Slice):
            parts = [None if part is None else self.index_part(part)
                     for part in (node.lower, node.upper, node.step)]
            return slice(*parts)
        if isinstance(node, ast.Tuple):
            return tuple(self.index(element) for element in node.elts)
        value = self.eval(node)
        return self.index_value(value, node)

    def index_part(self, node: ast.AST) -> Any:
        value = self.eval(node)
        if value is None:
            return None
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        if is_expr(value):
            raise self.fail("slice bounds must be integers known while reading, not "
                            "expressions", node)
        raise self.fail(f"slice bounds must be integers, not {describe(value)}", node)

    def index_value(self, value: Any, node: ast.AST) -> Any:
        if is_expr(value):
            raise self.fail("indexing with an expression is not supported; indices must be "
                            "integers known while reading (use np.where for masks)", node)
        if isinstance(value, tuple):
            return tuple(self.index_value(v, node) for v in value)
        if value is None or value is Ellipsis or isinstance(value, (slice, np.ndarray)):
            return value
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        raise self.fail(f"an index must be an integer, a slice, None or ..., not "
                        f"{describe(value)}", node)

    def eval_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name):
            try:
                function = self.scope.lookup_function(node.func.id)
            except Reject as err:
                raise self.fail(str(err), node.func) from None
        else:
            function = self.eval(node.func)
        args = [self.eval(arg) for arg in node.args]
        kwargs = {keyword.arg: self.eval(keyword.value) for keyword in node.keywords}
        return self.call(function, args, kwargs, node)

    def call(self, function: Any, args: list, kwargs: dict, node: ast.Call) -> Any:
        if isinstance(function, Known):
            if function.signature is not None:
                try:
                    function.signature.bind(*args, **kwargs)
                except TypeError as err:
                    raise self.fail(_arity_message(function, err, kwargs), node) from None
                if not function.name.startswith("dict."):
                    args, kwargs = self.check_sequences(function, args, kwargs, node)
            return self.guarded(node, function.call, *args, **kwargs)
        if isinstance(function, Method):
            entry = member_table.MEMBERS[function.name]
            problem = member_table.arity_problem(entry, function.owner, args, kwargs)
            if problem:
                raise self.fail(problem, node)
            method = member_table.get(function.owner, entry)
            return self.guarded(node, method, *args, **kwargs)
        if isinstance(function, type) and function in SCALAR_TYPES:
            if has_expr(args) or has_expr(kwargs):
                spelled = member_table.spelled(function)
                raise self.fail(f"{spelled}() converts a value known while reading; to "
                                f"convert an expression write x.astype({spelled})", node)
            return self.guarded(node, function, *args, **kwargs)
        if isinstance(function, constructs.LocalFunction):
            return constructs.call_local(self, function, args, kwargs, node)
        if isinstance(function, UserFunction):
            return self.inline(function, args, kwargs, node)
        raise self.fail(f"{describe(function)} is not a function symdiff can call", node)

    def check_sequences(self, function: Known, args: list, kwargs: dict,
                        node: ast.Call) -> tuple[list, dict]:
        """A list or tuple holding expressions is a sequence of arrays where NumPy takes
        one (a parameter named ``arrays``: concatenate, stack). Elsewhere NumPy makes it
        an array (``np.mean([a, b])``): it is stacked into one expression likewise."""
        names = list(function.signature.parameters) + [None] * len(args)
        args, kwargs = list(args), dict(kwargs)
        for i, (name, value, at) in enumerate(zip(names, list(args), node.args)):
            if name != "arrays" and isinstance(value, (list, tuple)) and has_expr(value):
                args[i] = self.guarded(at, constructs.as_array, value)
        for keyword in node.keywords:
            value = kwargs[keyword.arg]
            if keyword.arg != "arrays" and isinstance(value, (list, tuple)) \
                    and has_expr(value):
                kwargs[keyword.arg] = self.guarded(keyword.value, constructs.as_array, value)
        return args, kwargs


def _arity_message(function: Known, err: TypeError, kwargs: dict) -> str:
    message = f"{function.name}(): {err}"
    if function.signature is not None and "unexpected keyword" in str(err):
        names = [p for p in function.signature.parameters]
        for key in kwargs:
            if key not in names:
                return f"{function.name}() has no argument {key!r}" + suggest(key, names)
    if function.signature is not None:
        message += f"; the signature is {function.name}{function.signature}"
    return message
