"""The front end's names of ops come from the op records, and its walker has one method
per construct that its whitelist lets through.

Oracles: Python's ``math`` module computes each ``math.f`` read from a function; a
probe op registered for the test shows that a new record's ``math`` template is all
it takes for ``math.f`` to be read.
"""
import importlib.util
import math

import numpy as np
import pytest

import symdiff as sd
from symdiff import frontend
from symdiff.frontend import statements, walker, whitelist
from symdiff.ir import as_node, make
from symdiff.ops import FUNCTIONS, OPS, Op
from symdiff.ops.core import infer_elementwise

# Points inside each op's domain (arcsin, arccos: |x| < 1; log, sqrt: x > 0).
POINT = 0.37


def _module(tmp_path, name, source):
    """Functions written to a file, so that their source can be read."""
    path = tmp_path / f"{name}.py"
    path.write_text("import math\n\n" + source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _plain_math_templates():
    """(op name, math function name) for every op computed on floats by one math call."""
    rows = []
    for name, op in OPS.items():
        template = op.math or ""
        if template.startswith("math.") and template.endswith("({0})"):
            function = template[len("math."):-len("({0})")]
            if function.isidentifier():
                rows.append((name, function))
    return rows


def test_the_math_functions_read_are_those_of_the_op_records():
    found = {function for _, function in _plain_math_templates()}
    assert {"sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin",
            "acos", "atan", "log1p", "expm1"} <= found


@pytest.mark.parametrize("op_name, function", _plain_math_templates())
def test_each_math_function_reads_as_its_op(tmp_path, op_name, function):
    # A point inside the op's domain (arccosh is defined from 1 on).
    domain = OPS[op_name].domain
    point = POINT if not domain or min(domain[0]) <= POINT <= max(domain[0]) else domain[0][0]
    module = _module(tmp_path, f"math_{function}",
                     f"def f(x):\n    return math.{function}(x)\n\n"
                     f"def g():\n    return math.{function}({point})\n")
    x = sd.scalar("x")
    got = frontend.parse_function(module.f, x)
    assert got.op is OPS[op_name]
    assert sd.evaluate(got, {"x": point}) == pytest.approx(getattr(math, function)(point),
                                                           rel=1e-14)
    # On constants, math itself computes the value, as the function run would.
    assert frontend.parse_function(module.g) == getattr(math, function)(point)
    # Found by identity too: math.f held in a closure or passed to sd.grad.
    assert frontend.parse_function(getattr(math, function), x) is got


@pytest.fixture
def probe_erf():
    """A unary op NumPy lacks, declared with a math template, removed afterwards."""
    name = "erf_probe"
    impl = np.vectorize(math.erf, otypes=[np.float64])
    op = Op(name=name, impl=impl, infer=infer_elementwise(name, impl),
            code=lambda args, node: f"_erf({args[0]})", elementwise=True,
            math="math.erf({0})", differentiable=False)
    OPS[name] = op
    FUNCTIONS[name] = lambda x: make(op, [as_node(x)])
    try:
        yield op
    finally:
        del OPS[name], FUNCTIONS[name]


def test_a_new_ops_math_template_is_all_it_takes_to_read_its_math_function(tmp_path,
                                                                          probe_erf):
    module = _module(tmp_path, "math_probe", "def f(x):\n    return math.erf(x) * 2.0\n")
    x = sd.scalar("x")
    got = frontend.parse_function(module.f, x)
    assert got.inputs[0].op is probe_erf
    assert sd.evaluate(got, {"x": POINT}) == pytest.approx(2.0 * math.erf(POINT), rel=1e-14)
    assert frontend.parse_function(math.erf, x).op is probe_erf


def test_without_the_record_math_erf_is_refused(tmp_path):
    module = _module(tmp_path, "math_no_probe", "def f(x):\n    return math.erf(x)\n")
    if any(op.math == "math.erf({0})" for op in OPS.values()):
        pytest.skip("an erf op is declared")
    with pytest.raises(sd.ParseError, match=r"math\.erf is not supported"):
        frontend.parse_function(module.f, sd.scalar("x"))


def test_table_functions_missing_from_numpy_are_built_on_constants_too():
    # sigmoid has no NumPy function: on a constant it is the table's node, as before.
    got = sd.parse("sigmoid(0.5)")
    assert isinstance(got, sd.Node)
    assert sd.evaluate(got, {}) == pytest.approx(1.0 / (1.0 + math.exp(-0.5)), rel=1e-15)
    # exp has one: NumPy computes the constant.
    folded = sd.parse("exp(0.5)")
    assert isinstance(folded, sd.Const) and float(folded.value) == np.exp(0.5)


# ---------------------------------------------------------------------------
# one method per construct

def test_every_expression_kind_let_through_has_an_eval_method():
    # keywords, slices and comprehension clauses are read by their Call, Subscript and
    # comprehension.
    kinds = {k.__name__ for k in whitelist.ALLOWED_EXPRESSION_KINDS
             | whitelist.FUNCTION_EXPRESSION_KINDS} - {"keyword", "Slice", "comprehension"}
    missing = [k for k in kinds if not hasattr(walker.ExpressionWalker, "eval_" + k)]
    assert not missing, missing


def test_every_statement_kind_let_through_has_an_exec_method():
    kinds = {k.__name__ for k in whitelist.ALLOWED_STATEMENT_KINDS
             - whitelist.ALLOWED_EXPRESSION_KINDS - whitelist.FUNCTION_EXPRESSION_KINDS}
    missing = [k for k in kinds if not hasattr(statements.Walker, "exec_" + k)]
    assert not missing, missing
