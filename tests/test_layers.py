"""Layers import downward only: a module never imports one above it."""
import ast
import importlib
import pathlib

LAYERS = ["errors", "runtime", "ir", "ops", "interpret|frontend|autodiff|numpy_protocol",
          "rewrite", "codegen", "api|pyfunc|higher|batching|testing",
          "display|sympy_bridge|cli|demo|__main__"]
ROOT = pathlib.Path(__file__).resolve().parent.parent / "symdiff"
# Modules whose imports of private names are checked (the others are on their way).
NO_PRIVATE_IMPORTS = {"codegen", "runtime"}


def layer_of(module: str) -> int | None:
    for k, names in enumerate(LAYERS):
        if module in names.split("|"):
            return k
    return None


def _imports(path: pathlib.Path):
    """(target top-level module, imported names, import node, tree) for each relative
    import of a module of the package."""
    rel = path.relative_to(ROOT).parts
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        depth = len(rel) - 1   # 0 for symdiff/x.py, 1 for symdiff/pkg/x.py
        if node.level == depth + 1:   # from the package root: .x or ..x
            targets = [node.module.split(".")[0]] if node.module else \
                [alias.name for alias in node.names]
        else:                         # from inside the same subpackage
            targets = [rel[0]]
        for target in targets:
            yield target, [alias.name for alias in node.names], node, tree


def test_imports_go_downward():
    bad = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        here = layer_of(rel[0].removesuffix(".py"))
        if here is None:
            continue
        for target, _, node, tree in _imports(path):
            there = layer_of(target)
            if there is not None and there > here and not _lazy(node, tree):
                bad.append(f"{'/'.join(rel)} imports {target}")
    assert not bad, bad


def test_no_private_names_are_imported_across_modules():
    """A name with a leading underscore stays in its module, unless that module lists it
    in ``__all__`` (``symdiff.runtime``: its names are spliced into generated code,
    where the underscore keeps them clear of parameter names)."""
    bad = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        here = rel[0].removesuffix(".py")
        for target, names, node, _ in _imports(path):
            if here not in NO_PRIVATE_IMPORTS and target not in NO_PRIVATE_IMPORTS:
                continue
            module = node.module or ""
            if node.level == len(rel):   # from the package root
                public = getattr(importlib.import_module(f"symdiff.{module}") if module
                                 else importlib.import_module("symdiff"), "__all__", ())
            else:
                public = ()
            for name in names:
                if name.startswith("_") and name not in public:
                    bad.append(f"{'/'.join(rel)} imports {name} from .{module}")
    assert not bad, bad


def _lazy(node, tree) -> bool:
    """Imports inside functions are allowed upward only for the documented hooks."""
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and node in ast.walk(fn):
            return fn.name in {"__array_ufunc__", "__array_function__", "__str__", "__repr__",
                               "_repr_latex_", "function", "_f", "grad", "value_and_grad",
                               "__getattr__", "_check_expr", "_check_callable"}
    return False
