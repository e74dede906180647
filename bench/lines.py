"""Where the time goes, statement by statement: `python -m bench --only NAME --lines`.

The cost of statement k of a straight-line function is estimated as
T(first k statements) - T(first k-1 statements), each prefix compiled as its own
function and timed from fresh arguments (the best of a few repeats). Running
prefixes from scratch, rather than re-running one statement, keeps in-place
statements (`np.multiply(a, b, out=a)`) from feeding on their own results.
Differences of timings are noisy below ~0.2 µs; read the big entries.

Works on symdiff's generated function (its `.source`, run in the namespace the
function itself runs in) and on the hand-written references.
"""

import ast
import inspect
import textwrap
import timeit
from functools import partial

MAX_STATEMENTS = 250


def _main_function(tree, name=None):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and (name is None or node.name == name):
            if name is not None or not node.name.startswith("_"):
                return node
    raise ValueError("no function found in the source")


def _straight_line(body):
    """The statements, without the docstring; a try block's body is inlined."""
    statements = []
    for stmt in body:
        if isinstance(stmt, ast.Expr) and isinstance(getattr(stmt, "value", None), ast.Constant):
            continue
        if isinstance(stmt, ast.Try):
            statements += _straight_line(stmt.body)
        else:
            statements.append(stmt)
    return statements


def _best_time(func, args, number, repeats):
    timer = timeit.Timer(lambda: func(*args))
    return min(timer.repeat(repeat=repeats, number=number)) / number


def prefix_costs(source, namespace, args, name=None, min_time=0.02, repeats=9):
    """[(statement text, seconds)] for the function `name` (default: first public one)."""
    tree = ast.parse(textwrap.dedent(source))
    fn = _main_function(tree, name)
    statements = _straight_line(fn.body)
    if len(statements) > MAX_STATEMENTS:
        raise ValueError(f"{len(statements)} statements; --lines handles up to {MAX_STATEMENTS}")
    probes = []
    for k in range(len(statements) + 1):
        fields = dict(
            name=f"_probe_{k}", args=fn.args, body=statements[:k] + [ast.Pass()],
            decorator_list=[], returns=None,
        )
        if "type_params" in ast.FunctionDef._fields:  # Python >= 3.12
            fields["type_params"] = []
        probe = ast.FunctionDef(**fields)
        module = ast.fix_missing_locations(ast.Module(body=[probe], type_ignores=[]))
        scope = dict(namespace)
        exec(compile(module, f"<prefix {k}>", "exec"), scope)
        probes.append(scope[probe.name])
    full_once = max(_best_time(probes[-1], args, 1, 3), 1e-7)
    number = max(1, int(min_time / full_once))
    timers = [timeit.Timer(partial(p, *args)) for p in probes]
    totals = [float("inf")] * len(probes)
    for _ in range(repeats):  # interleaved, so drift in machine load hits all prefixes
        for k, timer in enumerate(timers):
            totals[k] = min(totals[k], timer.timeit(number) / number)
    return [
        (ast.unparse(stmt), totals[k + 1] - totals[k]) for k, stmt in enumerate(statements)
    ], totals[-1]


def symdiff_costs(function, args, **kw):
    namespace = getattr(function.__call__, "__globals__", None)
    if namespace is None:
        raise ValueError("the compiled function does not expose its globals")
    return prefix_costs(function.source, namespace, args, name=getattr(function, "name", None),
                        **kw)


def python_costs(func, args, **kw):
    """For a hand-written function: its own source and module globals."""
    source = inspect.getsource(func)
    namespace = dict(func.__globals__)
    if func.__closure__:  # e.g. the deep_scalar loop closes over its depth
        namespace.update(zip(func.__code__.co_freevars, (c.cell_contents for c in func.__closure__)))
    return prefix_costs(source, namespace, args, name=func.__name__, **kw)


def print_costs(title, costs, total, top=15):
    print(f"-- {title}: {total * 1e6:.2f} µs for the statements (no call overhead), top {top}:")
    ranked = sorted(costs, key=lambda item: -item[1])[:top]
    for text, seconds in ranked:
        share = seconds / total * 100 if total > 0 else 0.0
        text = text.replace("\n", " ")
        print(f"   {seconds * 1e6:8.2f} µs {share:5.1f}%  {text[:100]}")
