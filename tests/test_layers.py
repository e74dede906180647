"""Layers import downward only: a module never imports one above it; and no module
imports another module's private (underscored) names."""
import ast
import pathlib

LAYERS = ["errors", "runtime|portable_runtime", "ir|pytree", "ops|banded",
          "interpret|frontend|autodiff|numpy_protocol|printing|arguments|members|tracing",
          "rewrite", "codegen", "api|pyfunc|pyfunc_values|higher|batching|testing",
          "display|sympy_bridge|polish|cli|demo|__main__"]
ROOT = pathlib.Path(__file__).resolve().parent.parent / "symdiff"


def layer_of(module: str) -> int | None:
    for k, names in enumerate(LAYERS):
        if module in names.split("|"):
            return k
    return None


def _relative_imports(path: pathlib.Path):
    """(top-level symdiff module imported, the ImportFrom node, the module's tree) for
    every relative import in ``path``: ``from .x import y`` in ``display/graph.py``
    imports ``display``, ``from ..ir import Node`` imports ``ir``."""
    rel = path.relative_to(ROOT).parts
    package = list(rel[:-1])
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package[:len(package) - (node.level - 1)]
        names = base + (node.module.split(".") if node.module else [])
        if names:
            yield names[0].removesuffix(".py"), node, tree
        else:   # from . import x, at the top of the package
            for alias in node.names:
                yield alias.name, node, tree


def test_imports_go_downward():
    bad = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        here = layer_of(rel[0].removesuffix(".py"))
        if here is None:
            continue
        for target, node, tree in _relative_imports(path):
            there = layer_of(target)
            if there is not None and there > here and not _lazy(node, tree):
                bad.append(f"{'/'.join(rel)} imports {target}")
    assert not bad, bad


def test_every_module_has_a_layer():
    missing = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in ROOT.rglob("*.py")}
    missing = {m for m in missing if layer_of(m) is None and m != "__init__"}
    assert not missing, missing


# symdiff.runtime's names are underscored so that they cannot clash with the parameter
# names of generated functions; its __all__ is its public interface.
RUNTIME_API = set(__import__("symdiff.runtime", fromlist=["__all__"]).__all__)


def test_no_private_names_across_modules():
    bad = []
    for path in ROOT.rglob("*.py"):
        rel = "/".join(path.relative_to(ROOT).parts)
        for _, node, _ in _relative_imports(path):
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                public_runtime = node.module == "runtime" and alias.name in RUNTIME_API
                if private and not public_runtime:
                    bad.append(f"{rel} imports {alias.name} from {node.module}")
    assert not bad, bad


def _lazy(node, tree) -> bool:
    """Imports inside functions are allowed upward only for the documented hooks."""
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and node in ast.walk(fn):
            return fn.name in {"__array_ufunc__", "__array_function__", "__str__", "__repr__",
                               "_repr_latex_", "function", "_f", "grad", "value_and_grad",
                               "__getattr__", "_check_expr", "_check_callable"}
    return False


# Inside rewrite/, one job a module, in import order: a module imports only those before it.
REWRITE_LAYERS = ["pattern|record|polish_algebra", "polish_rules", "memo", "cost", "products",
                  "sums|factors", "engine", "ratios", "guards", "matrices",
                  "canonicalize|stabilize|specialize", "rules", "__init__"]


def test_rewrite_modules_import_downward():
    order = {name: k for k, names in enumerate(REWRITE_LAYERS) for name in names.split("|")}
    found = {p.stem for p in (ROOT / "rewrite").glob("*.py")}
    assert found == set(order), f"rewrite modules not in REWRITE_LAYERS: {found ^ set(order)}"
    bad = []
    for path in (ROOT / "rewrite").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                target = node.module.split(".")[0]
                if order[target] >= order[path.stem]:
                    bad.append(f"rewrite/{path.name} imports {target}")
    assert not bad, bad



# Inside frontend/, one job a module, in import order: a module imports only those before it.
FRONTEND_LAYERS = ["values", "operators", "positions", "whitelist", "constructs", "namespaces",
                   "source", "split", "walker", "statements", "bindings", "text",
                   "__init__"]


def test_frontend_modules_import_downward():
    order = {name: k for k, name in enumerate(FRONTEND_LAYERS)}
    found = {p.stem for p in (ROOT / "frontend").glob("*.py")}
    assert found == set(order), f"frontend modules not in FRONTEND_LAYERS: {found ^ set(order)}"
    bad = []
    for path in (ROOT / "frontend").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level == 1):
                continue
            # from .walker import X imports walker; from . import constructs, constructs
            targets = ([node.module.split(".")[0]] if node.module
                       else [alias.name for alias in node.names])
            for target in targets:
                if order[target] >= order[path.stem]:
                    bad.append(f"frontend/{path.name} imports {target}")
    assert not bad, bad


# Inside ops/, the families in dependency order. A family's rules may build nodes of a
# later family (they run only once every family is loaded): such imports go in one
# block at the very end of the module, after every declaration.
OPS_LAYERS = ["portable", "core", "declare|logistic|powers", "elementwise", "shape", "slicing",
              "joining", "reductions", "ufuncs", "contractions", "einsum", "linalg", "svd", "gather",
              "banded", "composites", "__init__"]


def test_ops_families_import_downward():
    order = {name: k for k, names in enumerate(OPS_LAYERS) for name in names.split("|")}
    found = {p.stem for p in (ROOT / "ops").glob("*.py")}
    assert found == set(order), f"ops modules not in OPS_LAYERS: {found ^ set(order)}"
    bad = []
    for path in (ROOT / "ops").glob("*.py"):
        body = ast.parse(path.read_text()).body
        for k, node in enumerate(body):
            if not (isinstance(node, ast.ImportFrom) and node.level == 1 and node.module):
                continue
            target = node.module.split(".")[0]
            trailing = all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body[k:])
            if order[target] >= order[path.stem] and not trailing:
                bad.append(f"ops/{path.name} imports {target} before its declarations end")
    assert not bad, bad
