"""Attributes, methods and dtypes in NumPy-style functions read by the front end.

The oracle is NumPy itself: each function below is also run on NumPy arrays, and
its gradient is checked against central finite differences of that run.
"""
import importlib.util
import math

import numpy as np
import pytest

import symdiff as sd
from symdiff import frontend
from symdiff.members import MEMBERS
from symdiff.testing import check_grads

X23 = np.array([[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]])

# One call per member: the test below fails when a member is added without a case.
MEMBER_CASES = {
    "T": ("", X23), "mT": ("", X23), "shape": ("", X23), "ndim": ("", X23),
    "size": ("", X23), "dtype": ("", X23),
    "sum": ("(axis=0)", X23), "mean": ("(1, keepdims=True)", X23), "prod": ("()", X23),
    "max": ("(axis=1)", X23), "min": ("()", X23), "reshape": ("(3, 2)", X23),
    "transpose": ("(1, 0)", X23), "dot": ("(np.arange(3.0))", X23),
    "clip": ("(-0.5, 1.0)", X23), "squeeze": ("(axis=0)", X23[:1]),
    "ravel": ("()", X23), "flatten": ("()", X23), "astype": ("(np.float32)", X23),
}


def _module(tmp_path, name, source):
    """Functions written to a file, so that their source can be read."""
    path = tmp_path / f"{name}.py"
    path.write_text("import numpy as np\n\n" + source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_member_has_a_case():
    assert set(MEMBER_CASES) == set(MEMBERS)


@pytest.mark.parametrize("name", sorted(MEMBER_CASES))
def test_each_member_reads_as_numpy_computes_it(tmp_path, name):
    call, value = MEMBER_CASES[name]
    module = _module(tmp_path, f"member_{name}",
                     f"def f(x):\n    return x.{name}{call}\n\n"
                     f"def g(x):\n    return np.sum(np.sin(x.{name}{call}) * 1.5)\n")
    expected = module.f(value)                 # NumPy's own answer
    got = frontend.parse_function(module.f, sd.var("x", value.shape))
    if isinstance(got, sd.Node):
        assert got.shape == np.shape(expected)
        assert got.dtype == np.asarray(expected).dtype
        np.testing.assert_allclose(sd.evaluate(got, {"x": value}), expected, rtol=1e-6)
        # float32 values need a step that their rounding does not swamp
        wide = got.dtype == np.float32
        check_grads(module.g, (value,), eps=1e-2 if wide else 1e-5, rtol=1e-4 if wide else 1e-5)
    else:
        assert got == expected and type(got) is type(expected)


def test_unknown_attributes_list_what_exists(tmp_path):
    module = _module(tmp_path, "unknown_attribute", "def f(x):\n    return x.real\n")
    with pytest.raises(sd.ParseError) as err:
        sd.grad(module.f)(1.0)
    message = str(err.value)
    assert "the attribute .real is not supported" in message
    for name in MEMBERS:
        assert f".{name}" in message
    assert message.splitlines()[-1].strip() == "^"
    assert "object has no attribute" not in message


def test_method_arguments_are_checked_against_its_signature():
    with pytest.raises(sd.ParseError, match=r"\.clip\(min=None, max=None\)"):
        sd.parse("x.clip(a_min=0)", x=(3,))


def test_mT_is_the_matrix_transpose_and_needs_two_axes():
    stack = sd.parse("x.mT", x=(4, 2, 3))
    values = np.arange(24.0).reshape(4, 2, 3)
    np.testing.assert_array_equal(sd.evaluate(stack, {"x": values}), values.mT)
    with pytest.raises(sd.ShapeError, match="at least 2 dimensions"):
        sd.parse("x.mT", x=(3,))


def test_clip_with_one_bound_is_maximum_or_minimum():
    x = np.array([-2.0, 0.5, 3.0])
    for text, expected in (("x.clip(0)", x.clip(0)), ("x.clip(max=1)", x.clip(max=1)),
                           ("x.clip(min=0, max=1)", x.clip(0, 1)), ("x.clip()", x.clip())):
        np.testing.assert_array_equal(sd.evaluate(sd.parse(text, x=(3,)), {"x": x}), expected)


def test_squeeze_without_axis_drops_the_static_ones():
    e = sd.parse("x.squeeze()", x=(1, 3, 1))
    assert e.shape == (3,)


# -- dtypes: comparisons and conversions ----------------------------------------------------

def dtype_branch(x):
    # NumPy: np.dtype('float32') == np.float32 is True.
    if x.dtype == np.float32:
        return np.sum(x) * 2.0
    return np.sum(x) * 3.0


def dtype_asserts(x):
    assert x.dtype == np.float64
    assert x.dtype != np.float32
    assert x.dtype in (np.float32, np.float64)
    assert x.dtype == float
    assert x.dtype is not np.float64          # a dtype is not the scalar type
    assert x.shape == (2, 3)
    assert x.ndim == 2
    assert x.size == 6
    return np.sum(x ** 2)


def conversions(x):
    a = np.astype(x, np.float32)
    b = x.astype(np.float32)
    c = x.astype(float)
    return np.sum(a) + np.sum(b * np.float32(2.0)) + np.sum(c) * float(3)


def string_dtype(x):
    return np.sum(x.astype("float32"))


def convert_an_expression(x):
    return np.float32(x)


def test_dtype_comparisons_follow_numpy():
    for dtype, factor in ((np.float32, 2.0), (np.float64, 3.0)):
        value = np.ones(3, dtype)
        assert float(dtype_branch(value)) == factor * 3      # NumPy's own run
        g = sd.grad(dtype_branch)(value)
        assert g.dtype == dtype
        np.testing.assert_array_equal(g, np.full(3, factor))


def test_shape_and_dtype_asserts_hold_when_true():
    np.testing.assert_allclose(sd.grad(dtype_asserts)(X23), 2 * X23)


def test_astype_and_scalar_types():
    assert conversions(X23) == pytest.approx(6 * X23.sum(), rel=1e-6)
    g = sd.grad(conversions)(X23)
    np.testing.assert_allclose(g, np.full(X23.shape, 6.0))
    assert sd.parse("x.astype(np.float32)").dtype == np.float32


def test_string_dtypes_are_read_and_converting_expressions_is_refused():
    # NumPy takes a dtype's name as well as the type: x.astype("float32").
    np.testing.assert_allclose(sd.grad(string_dtype)(X23), np.ones(X23.shape))
    assert sd.value_and_grad(string_dtype)(X23)[0].dtype == np.float32
    with pytest.raises(sd.ParseError, match=r"x\.astype\(np\.float32\)"):
        sd.grad(convert_an_expression)(1.0)


# -- lists of expressions where NumPy would build an array ----------------------------------

def mean_of_list(x):
    return np.mean([x[0], x[1]])


def norm_of_list(x):
    parts = [x[0], x[1]]
    return np.linalg.norm(parts)


def mean_of_stack(x):
    return np.mean(np.stack([x[0], x[1]])) + np.sum(np.concatenate([x, x]))


def python_sum_of_list(x):
    return sum([x[0], x[1]])


@pytest.mark.parametrize("fn, want", [
    (mean_of_list, lambda x: np.array([0.5, 0.5])),
    (norm_of_list, lambda x: x / np.sqrt(np.sum(x ** 2))),
])
def test_lists_of_expressions_are_arrays_as_in_numpy(fn, want):
    # NumPy makes an array of a list: np.mean([a, b]) is np.mean(np.stack([a, b])).
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(sd.value_and_grad(fn)(x)[0], fn(x), rtol=1e-15)
    np.testing.assert_allclose(sd.grad(fn)(x), want(x), rtol=1e-14)


def test_stack_concatenate_and_python_sum_still_take_lists():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(sd.grad(mean_of_stack)(x), [2.5, 2.5])
    np.testing.assert_allclose(sd.grad(python_sum_of_list)(x), [1.0, 1.0])
    assert math.isclose(float(sd.value_and_grad(mean_of_stack)(x)[0]), mean_of_stack(x))
