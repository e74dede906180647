"""Where the time goes, statement by statement: `python -m bench --only NAME --lines`.

Each statement of a straight-line function is timed on its own: the function
runs once up to that statement to get the live values, then the statement is
compiled into a small function of the names it uses and timed (best of a few
interleaved repeats). A statement that writes into an existing array
(`np.multiply(a, b, out=a)`, `a += b`, `a[1:] = b`) first has that array
restored from a saved copy, so it never feeds on its own results; the time of
the restore alone is measured the same way and subtracted. Values sit in cache
between repeats, so big arrays look a little cheaper than inside the real call.

Works on symdiff's generated function (its `.source`, run in the namespace the
function itself runs in) and on the hand-written references.
"""

import ast
import inspect
import textwrap
import timeit

import numpy as np

MAX_STATEMENTS = 400


def _main_function(tree, name=None):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            if node.name == name or (name is None and not node.name.startswith("_")):
                return node
    raise ValueError("no function found in the source")


def _straight_line(body):
    """The statements, without the docstring; a try block's body is inlined."""
    statements = []
    for stmt in body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Try):
            statements += _straight_line(stmt.body)
        elif isinstance(stmt, ast.Return):
            statements.append(ast.Expr(value=stmt.value) if stmt.value else ast.Pass())
        else:
            statements.append(stmt)
    return statements


def _written_in_place(stmt):
    """Names of existing arrays the statement writes into."""
    names = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "out" and isinstance(kw.value, ast.Name):
                    names.add(kw.value.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    names.add(target.value.id)
    return names


def _function(name, params, body, namespace):
    args = ast.arguments(
        posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None, kwonlyargs=[],
        kw_defaults=[], kwarg=None, defaults=[],
    )
    fields = dict(name=name, args=args, body=body or [ast.Pass()], decorator_list=[],
                  returns=None)
    if "type_params" in ast.FunctionDef._fields:  # Python >= 3.12
        fields["type_params"] = []
    module = ast.fix_missing_locations(ast.Module(body=[ast.FunctionDef(**fields)],
                                                  type_ignores=[]))
    scope = dict(namespace)
    exec(compile(module, f"<{name}>", "exec"), scope)
    return scope[name]


def _states(fn, statements, namespace, args):
    """The local variables before each statement."""
    params = [a.arg for a in fn.args.args]
    capture = ast.parse("return dict(locals())").body
    states = []
    for k in range(len(statements)):
        prefix = _function("_prefix", params, statements[:k] + capture, namespace)
        states.append(prefix(*args))
    return states


def statement_costs(source, namespace, args, name=None, min_time=0.005, repeats=7):
    """([(statement text, seconds)], total seconds) for function `name` in `source`."""
    tree = ast.parse(textwrap.dedent(source))
    fn = _main_function(tree, name)
    statements = _straight_line(fn.body)
    if len(statements) > MAX_STATEMENTS:
        raise ValueError(f"{len(statements)} statements; --lines handles up to {MAX_STATEMENTS}")
    states = _states(fn, statements, namespace, args)
    namespace = {**namespace, "_np_copyto": np.copyto}
    timers = []
    for stmt, state in zip(statements, states):
        used = sorted({n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)} & set(state))
        mutated = sorted(n for n in _written_in_place(stmt)
                         if isinstance(state.get(n), np.ndarray))
        restore = [ast.parse(f"_np_copyto({m}, _saved_{m})").body[0] for m in mutated]
        params = used + [f"_saved_{m}" for m in mutated]
        values = [state[n] for n in used]
        values = [v.copy() if isinstance(v, np.ndarray) and n in mutated else v
                  for n, v in zip(used, values)]
        values += [state[m].copy() for m in mutated]
        run = _function("_stmt", params, restore + [stmt], namespace)
        base = _function("_base", params, restore, namespace)
        timers.append((timeit.Timer(lambda f=run, v=values: f(*v)),
                       timeit.Timer(lambda f=base, v=values: f(*v))))
    numbers = []
    for timer, _ in timers:
        once = max(min(timer.repeat(3, 1)), 1e-7)
        numbers.append(max(1, int(min_time / once)))
    best = [[float("inf"), float("inf")] for _ in timers]
    for _ in range(repeats):
        for k, (timer, base) in enumerate(timers):
            best[k][0] = min(best[k][0], timer.timeit(numbers[k]) / numbers[k])
            best[k][1] = min(best[k][1], base.timeit(numbers[k]) / numbers[k])
    costs = [(ast.unparse(stmt), max(run - base, 0.0))
             for stmt, (run, base) in zip(statements, best)]
    return costs, sum(c for _, c in costs)


def symdiff_costs(function, args, **kw):
    namespace = getattr(function.__call__, "__globals__", None)
    if namespace is None:
        raise ValueError("the compiled function does not expose its globals")
    return statement_costs(function.source, namespace, args,
                           name=getattr(function, "name", None), **kw)


def python_costs(func, args, **kw):
    """For a hand-written function: its own source and module globals."""
    namespace = dict(func.__globals__)
    if func.__closure__:  # e.g. the deep_scalar loop closes over its depth
        namespace.update(zip(func.__code__.co_freevars,
                             (c.cell_contents for c in func.__closure__)))
    return statement_costs(inspect.getsource(func), namespace, args, name=func.__name__, **kw)


def print_costs(title, costs, total, top=15):
    print(f"-- {title}: statements sum to {total * 1e6:.2f} µs; the top {top}:")
    for text, seconds in sorted(costs, key=lambda item: -item[1])[:top]:
        share = seconds / total * 100 if total > 0 else 0.0
        print(f"   {seconds * 1e6:9.2f} µs {share:5.1f}%  {text.replace(chr(10), ' ')[:100]}")
