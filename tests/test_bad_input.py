"""Bad input: a clear ParseError (class, position, message, caret), quickly, never run.

Every case checks the error class, the line and column, the message text and
the caret line under the source; the function cases check that the position is
the one in this file. Nothing is ever executed: a sentinel file that the input
would create never appears.
"""
import os
import pathlib
import re
import time

import numpy as np
import pytest

import symdiff as sd

HERE = pathlib.Path(__file__)
SENTINEL = "/tmp/SENTINEL"
SENTINEL_FN = "/tmp/SENTINEL_symdiff_function"


def caret_of(err):
    """The (source line, caret column) shown at the end of the message."""
    lines = str(err).splitlines()
    assert lines[-1].strip() == "^", str(err)
    return lines[-2][4:], len(lines[-1]) - 5


def check_error(err, text, lineno, col, message):
    assert isinstance(err, sd.ParseError) and isinstance(err, sd.SymdiffError)
    assert err.lineno == lineno, str(err)
    assert err.col == col, str(err)
    assert re.search(message, err.message), err.message
    shown, caret = caret_of(err)
    expected_line = text.splitlines()[lineno - 1] if text.splitlines() else ""
    if len(expected_line) <= 100:
        assert shown == expected_line
        assert caret == col


# (text, lineno, col, message regex)
BAD_TEXT = [
    ("sinn(x)", 1, 0, r"unknown function 'sinn'; did you mean 'sin'\?"),
    ("x + cso(y)", 1, 4, r"did you mean 'cos'\?"),
    ("x ^ 2", 1, 2, r"'\^' is bitwise XOR in Python; use \*\* for powers"),
    ("x ** 2 ^ 3", 1, 7, r"use \*\* for powers"),
    ("", 1, 0, r"empty expression"),
    ("   \n  ", 1, 0, r"empty expression"),
    ("(x + (y", 1, 5, r"'\(' was never closed"),
    ("x + y)", 1, 5, r"unmatched '\)'"),
    ("x y", 1, 2, r"invalid syntax"),
    ("1e400", 1, 0, r"non-finite constant"),
    ("x + 1e400", 1, 4, r"non-finite constant"),
    ("σ + 1e400", 1, 4, r"non-finite constant"),
    ("x**10**10**10", 1, 5, r"10 \*\* 10000000000 is too large for float64"),
    ("10.0**400 * x", 1, 4, r"overflows float64"),
    ("x / (1/0)", 1, 6, r"division by zero"),
    ("1j * x", 1, 0, r"complex numbers are not supported"),
    ("1" * 5000, 1, 0, r"integer string conversion|digits"),
    ("import os", 1, 0, r"an import statement is not allowed in an expression"),
    ("x = 1", 1, 0, r"an assignment is not allowed in an expression"),
    ("x\nreturn x", 2, 0, r"a return statement is not allowed in an expression"),
    ("lambda x: x", 1, 0, r"a lambda is not supported"),
    ("__import__('os').system('touch /tmp/SENTINEL')", 1, 0, r"calling __import__\(\)"),
    ("exec('import os')", 1, 0, r"calling exec\(\) is not allowed"),
    ("eval('x')", 1, 0, r"calling eval\(\) is not allowed"),
    ("x + open('/etc/passwd')", 1, 4, r"calling open\(\) is not allowed"),
    ("print(x)", 1, 0, r"calling print\(\) is not allowed"),
    ("getattr(x, 'T')", 1, 0, r"calling getattr\(\) is not allowed"),
    ("x.__class__", 1, 2, r"the attribute '__class__' is not allowed"),
    ("os.system(1)", 1, 3, r"attribute \.system is not supported"),
    ("np.random.rand(3)", 1, 3, r"np\.random is not supported"),
    ("np.sinn(x)", 1, 3, r"np\.sinn is not supported; did you mean np\.sin\?"),
    ("x.foo", 1, 2, r"attribute \.foo is not supported"),
    ("[i for i in x]", 1, 0, r"a list comprehension is not supported"),
    ("sum(i for i in x)", 1, 3, r"a generator expression is not supported"),
    ("f'{x}'", 1, 0, r"an f-string is not supported"),
    ("(y := 2) * y", 1, 1, r"the walrus operator ':=' is not supported"),
    ("'abc'", 1, 0, r"strings are not allowed"),
    ("x * 'abc'", 1, 4, r"strings are not allowed"),
    ("float('1e5') * x", 1, 6, r"strings are not allowed"),
    ("{1: x}", 1, 0, r"a dict literal is not supported"),
    ("{1, x}", 1, 0, r"a set literal is not supported"),
    ("maximum(*x)", 1, 8, r"a starred expression is not supported"),
    ("exp(**k)", 1, 6, r"\*\*kwargs in a call is not supported"),
    ("exp(x, y)", 1, 0, r"exp\(\): too many positional arguments"),
    ("exp()", 1, 0, r"exp\(\): missing a required argument: 'x'"),
    ("sum(x, axs=0)", 1, 0, r"sum\(\) has no argument 'axs'; did you mean 'axis'\?"),
    ("sum(x, 1)", 1, 0, r"ambiguous"),
    ("x if y else z", 1, 5, r"np\.where"),
    ("x < y < z", 1, 0, r"chained comparisons"),
    ("x and y", 1, 0, r"'and' needs a value known while reading"),
    ("~x", 1, 0, r"'~' \(bitwise not\) is not supported"),
    ("x & y", 1, 2, r"'&'"),
    ("x | y", 1, 2, r"'\|'"),
    ("x << 1", 1, 2, r"'<<' is not supported"),
    ("v[y]", 1, 2, r"indexing with an expression is not supported"),
    ("v[1.5]", 1, 2, r"an index must be an integer"),
    ("v[y:2]", 1, 2, r"slice bounds must be integers"),
    ("np.sin + 1", 1, 7, r"sin is a function; call it"),
    ("np.exp", 1, 0, r"the text is the function exp, not an expression"),
    ("x, y", 1, 0, r"the text is a tuple, not an expression"),
    ("  sinn(x)", 1, 2, r"unknown function 'sinn'"),
    ("(x +\n  sinn(y))", 2, 2, r"unknown function 'sinn'"),
    ("(" * 10000 + "x" + ")" * 10000, 1, 200, r"too many nested parentheses"),
    ("sin(" * 190 + "x" + ")" * 190, 1, 720, r"nested too deeply \(more than 180 levels\)"),
    ("x" + "[0]" * 100000, 1, 0, r"nested too deeply"),
    ("-" * 100000 + "x", 1, 0, r"nested too deeply"),
    ("x+" * 300000 + "x", 1, 0, r"expression too long: 300001 terms"),
]


@pytest.mark.parametrize("text, lineno, col, message", BAD_TEXT,
                         ids=[repr(case[0][:24]) for case in BAD_TEXT])
def test_bad_text(text, lineno, col, message):
    start = time.perf_counter()
    with pytest.raises(sd.ParseError) as info:
        sd.parse(text, v=(4,))
    assert time.perf_counter() - start < 1.0
    check_error(info.value, text, lineno, col, message)


def test_errors_from_the_core_carry_the_position():
    with pytest.raises(sd.ShapeError) as info:
        sd.parse("x + W @ v", W=(2, 3), v=(4,))
    assert "line 1, column 5" in str(info.value)
    assert str(info.value).splitlines()[-1] == "        ^"
    with pytest.raises(sd.ShapeError, match="line 1"):
        sd.parse("sum(v, axis=3)", v=(4,))


def test_deep_caller_stack_gives_a_parse_error_not_a_recursion_error():
    def down(n):
        if n == 0:
            return sd.parse("sin(" * 150 + "x" + ")" * 150)
        return down(n - 1)
    with pytest.raises(sd.ParseError, match="nested too deeply"):
        down(800)
    sd.parse("sin(" * 150 + "x" + ")" * 150)      # fine from a shallow stack


def test_an_uncaught_parse_error_prints_its_message_and_caret():
    # ParseError is a SyntaxError: Python's traceback printer uses msg/text/offset.
    import traceback
    with pytest.raises(sd.ParseError) as info:
        sd.parse("x + sinn(x)")
    printed = "".join(traceback.format_exception_only(type(info.value), info.value))
    assert "ParseError: unknown function 'sinn'; did you mean 'sin'?" in printed
    assert "    x + sinn(x)\n        ^" in printed
    with pytest.raises(sd.ParseError) as info:
        sd.grad(unknown_name)(np.ones(3))
    printed = "".join(traceback.format_exception_only(type(info.value), info.value))
    lineno, col = where("MARK-unknown", "sinn")
    assert f'File "{HERE}", line {lineno}' in printed
    assert "did you mean np.sin?" in printed


def test_parse_takes_a_string():
    with pytest.raises(TypeError, match="string"):
        sd.parse(b"x")


def test_nothing_is_run_by_parse():
    existed = os.path.exists(SENTINEL)
    for text in ["__import__('os').system('touch /tmp/SENTINEL')",
                 "().__class__.__bases__[0].__subclasses__()",
                 "os.system('touch /tmp/SENTINEL')",
                 "np.os.system('touch /tmp/SENTINEL')",
                 "x + (lambda: __import__('os').system('touch /tmp/SENTINEL'))()",
                 "[__import__('os').system('touch /tmp/SENTINEL') for _ in x]"]:
        with pytest.raises(sd.ParseError):
            sd.parse(text)
    assert existed or not os.path.exists(SENTINEL)


def test_the_table_is_a_whitelist_of_names_only():
    # Builtins and modules are not reachable through free names: they are variables.
    e = sd.parse("os + sys + open")
    assert sorted(e.vars) == ["open", "os", "sys"]


# ---------------------------------------------------------------------------
# functions: positions in this file

def where(marker, snippet=None):
    """(lineno, col) in this file of ``snippet`` on the line holding ``marker``."""
    for lineno, line in enumerate(HERE.read_text().splitlines(), start=1):
        if marker in line and "where(" not in line:
            return lineno, line.index(snippet if snippet is not None else marker)
    raise AssertionError(marker)


def runs_os(x):
    __import__("os").system("touch /tmp/SENTINEL_symdiff_function")  # MARK-runs-os
    return np.sum(x)


def uses_set_comprehension(x):
    return np.sum({x[i] for i in range(3)})  # MARK-set-comprehension


def uses_while(x):
    while np.sum(x) > 0:  # MARK-while
        x = x - 1
    return np.sum(x)


def uses_import(x):
    import math  # MARK-import
    return np.sum(x) * math.pi


def uses_global(x):
    global SENTINEL  # MARK-global
    return np.sum(x)


def uses_try(x):
    try:  # MARK-try
        return np.sum(x)
    except ValueError:
        return 0.0


def uses_with(x):
    with open("/dev/null"):  # MARK-with
        return np.sum(x)


def uses_fstring(x):
    name = f"{x}"  # MARK-fstring
    return np.sum(x)


def uses_walrus(x):
    return np.sum((y := x) * y)  # MARK-walrus


def uses_starred(x):
    return np.maximum(*x)  # MARK-starred


def uses_dict(x):
    d = {"w": x}
    return np.sum(d)  # MARK-dict


def uses_string(x):
    return np.sum(x) * "abc"  # MARK-string


def uses_eval(x):
    return eval("np.sum(x)")  # MARK-eval


def unknown_name(x):
    y = x * 2
    return np.sum(sinn(y))  # noqa: F821  MARK-unknown


def unknown_numpy(x):
    return np.sum(np.sinn(x))  # MARK-np-unknown


def dunder_attribute(x):
    return np.sum(x.__class__)  # MARK-dunder


def numpy_random(x):
    return np.sum(np.random.rand(3) * x)  # MARK-random


def data_dependent_if(x):
    if np.sum(x) > 0:  # MARK-if
        return np.sum(x)
    return -np.sum(x)


def endless_loop(x):
    total = 0.0
    for i in range(10 ** 9):  # MARK-range
        total = total + x[0]
    return total


def recursive(x):
    return recursive(x)  # MARK-recursive


def prints(x):
    print(x)  # MARK-print
    return np.sum(x)


def item_assignment(x):
    x[0] = 1.0  # MARK-item
    return np.sum(x)


def bad_helper(z):
    return np.sum(cso(z))  # noqa: F821  MARK-helper


def calls_bad_helper(x):
    return bad_helper(x) + 1.0


def uses_xor(x):
    return np.sum(x ^ 2)  # MARK-xor


def huge_literal(x):
    return np.sum(x) * 1e400  # MARK-literal


def nested_def_with_varargs(x):
    def g(*y):  # MARK-nested
        return y
    return np.sum(g(x))


def raises(x):
    raise ValueError("no")  # MARK-raise


def yields(x):
    yield np.sum(x)  # MARK-yield


def no_return(x):  # MARK-no-return
    y = np.sum(x)


def wrong_arity(x):
    return np.sum(np.exp(x, x))  # MARK-arity


def class_call(x):
    return np.sum(pathlib.Path(x))  # MARK-class


def expression_index(x):
    return x[np.argmax(x)]  # MARK-index


def library_function(x):
    return np.sum(scipy_like(x))  # MARK-library


scipy_like = np.linalg.eigvalsh


BAD_FUNCTIONS = [
    (runs_os, "MARK-runs-os", "__import__", r"calling __import__\(\) is not allowed"),
    (uses_set_comprehension, "MARK-set-comprehension", "{x[i]", r"a set comprehension"),
    (uses_while, "MARK-while", "while", r"a while loop is not supported"),
    (uses_import, "MARK-import", "import", r"an import statement is not supported"),
    (uses_global, "MARK-global", "global", r"a global statement is not supported"),
    (uses_try, "MARK-try", "try", r"a try statement is not supported"),
    (uses_with, "MARK-with", "with", r"a with statement is not supported"),
    (uses_fstring, "MARK-fstring", 'f"', r"an f-string is not supported"),
    (uses_walrus, "MARK-walrus", "y :=", r"the walrus operator"),
    (uses_starred, "MARK-starred", "*x", r"a starred expression"),
    (uses_dict, "MARK-dict", "np.sum", r"cannot use a value of type dict"),
    (uses_string, "MARK-string", '* "abc"', r"strings are not allowed"),
    (uses_eval, "MARK-eval", "eval", r"calling eval\(\) is not allowed"),
    (unknown_name, "MARK-unknown", "sinn", r"name 'sinn' is not defined; did you mean np\.sin"),
    (unknown_numpy, "MARK-np-unknown", "sinn", r"np\.sinn is not supported; did you mean "
                                               r"np\.sin\?"),
    (dunder_attribute, "MARK-dunder", "__class__", r"the attribute '__class__'"),
    (numpy_random, "MARK-random", "random", r"np\.random is not supported"),
    (data_dependent_if, "MARK-if", "np.sum(x) > 0", r"'if' needs a value known while "
                                                    r"reading.*np\.where"),
    (endless_loop, "MARK-range", "range", r"loop too long to unroll"),
    (recursive, "MARK-recursive", "recursive(x)", r"recursive call of recursive\(\)"),
    (prints, "MARK-print", "print", r"calling print\(\) is not allowed"),
    (item_assignment, "MARK-item", "x[0]", r"item and attribute assignment"),
    (calls_bad_helper, "MARK-helper", "cso", r"name 'cso' is not defined; did you mean "
                                              r"np\.cos"),
    (uses_xor, "MARK-xor", "^", r"use \*\* for powers"),
    (huge_literal, "MARK-literal", "1e400", r"non-finite constant"),
    (nested_def_with_varargs, "MARK-nested", "y):", r"\*args parameters are not "
                                                    r"supported"),
    (raises, "MARK-raise", "raise", r"raises an exception"),
    (yields, "MARK-yield", "yield", r"yield is not supported"),
    (no_return, "MARK-no-return", "def", r"has no return statement"),
    (wrong_arity, "MARK-arity", "np.exp", r"exp\(\): too many positional arguments"),
    (class_call, "MARK-class", "pathlib", r"pathlib.*module"),
    (expression_index, "MARK-index", "argmax", r"np\.argmax is not supported"),
    (library_function, "MARK-library", "scipy_like", r"numpy\.eigvalsh\) is not a function "
                                                     r"symdiff knows"),
]


@pytest.mark.parametrize("fn, marker, snippet, message", BAD_FUNCTIONS,
                         ids=[case[0].__name__ for case in BAD_FUNCTIONS])
def test_bad_function(fn, marker, snippet, message):
    start = time.perf_counter()
    with pytest.raises(sd.ParseError) as info:
        sd.grad(fn)(np.ones(3))
    assert time.perf_counter() - start < 1.0
    err = info.value
    lineno, col = where(marker, snippet)
    assert err.filename == str(HERE)
    check_error(err, HERE.read_text(), lineno, col, message)
    assert f'file "{HERE}", line {lineno}, column {col + 1}' in str(err)


def test_nothing_is_run_by_grad():
    existed = os.path.exists(SENTINEL_FN)
    for call in (lambda: sd.grad(runs_os)(np.ones(3)),
                 lambda: sd.value_and_grad(runs_os)(np.ones(3))):
        with pytest.raises(sd.ParseError):
            call()
    assert existed or not os.path.exists(SENTINEL_FN)


def test_an_error_is_not_cached_as_a_success():
    df = sd.grad(unknown_name)
    for _ in range(2):
        with pytest.raises(sd.ParseError):
            df(np.ones(3))
    assert df.compilations == 0


def test_functions_without_source():
    namespace = {}
    exec("def made_up(x):\n    return x * 2\n", {"np": np}, namespace)
    # No source to read: the function is traced on symbolic arguments instead.
    assert sd.grad(namespace["made_up"])(1.0) == 2.0
    with pytest.raises(TypeError, match="Python function"):
        sd.grad(sum)(np.ones(3))


def test_table_functions_can_be_differentiated_directly():
    np.testing.assert_allclose(sd.grad(np.sin)(0.5), np.cos(0.5))
    np.testing.assert_allclose(sd.grad(np.sum)(np.ones(3)), np.ones(3))
    np.testing.assert_allclose(sd.grad(sd.sigmoid)(0.0), 0.25)
