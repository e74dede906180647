"""``function()``: compile outputs into a ``Function``; ``module_source`` for the CLI.

A compiled function is the plan of its (simplified) graph, printed as NumPy source,
executed once. The source is registered with ``linecache`` so tracebacks and
``inspect.getsource`` show it; compiled functions are cached by graph and options.

Dispatch on the arguments: a call whose arguments are all NumPy arrays, NumPy
scalars, Python numbers or lists runs the NumPy code. The test is the first statement
of the generated function itself, one class test per argument (``runtime._native``),
so the NumPy path pays no wrapper call. Any other class calls ``_other_arrays``,
which the compiled function binds in its namespace to ``Function._other_arrays``: an
argument of another Array API library (Dask, CuPy, PyTorch, JAX, array-api-strict)
runs the portable variant (``portable_printer.py``), printed from the same simplified
graph on the first such call and kept; it returns arrays of that library, lazy for
Dask. Anything else (a NumPy subclass, another number) goes on with the NumPy code.
"""
from __future__ import annotations

import importlib.util
import itertools
import keyword
import linecache
import os
import threading
import warnings
from collections import OrderedDict
from typing import Any, Sequence

from .. import portable_runtime, runtime
from ..errors import CompileError
from ..ir import Node, Var, as_node, gc_paused, meta, toposort
from ..printing import type_str
from .numpy_printer import function_source, module_source_text
from .measured import Measured, measured
from .plan import make_plan
from .portable_printer import NoPortableForm, portable_source

# Names the generated code uses for itself: no parameter may take them.
RESERVED = {"np", "math", "float", "abs", "max", "ndarray", "asarray", "_s", "_pool", "_run",
            "_numpy_path",
            *runtime.__all__, *portable_runtime.__all__}
_CACHE: "OrderedDict[tuple, Function]" = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()   # lookups and evictions from several threads
_serial = itertools.count(1)   # numbers the sources registered with linecache


class Function:
    """A compiled function: call it with arrays; ``.source`` is the generated code."""

    def __init__(self, inputs: list[Var], outputs: list[Node], single: bool, source: str,
                 fn: Any, name: str) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.single = single
        self.source = source
        self.name = name
        self._fn = fn
        self.__doc__ = fn.__doc__
        self._optimize = True                    # simplify again for the portable variant
        self._portable: tuple | None = None      # (source, function) or (None, NoPortableForm)
        self._trial: Measured | None = None      # backend="numba": the two variants' trial
        self._compiling: _Compiling | None = None   # backend="numba": kernels on a thread
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):  # replaced per function by the generated function
        return self._fn(*args, **kwargs)

    @property
    def portable_source(self) -> str:
        """The portable variant's source (Array API, run for arrays of other libraries);
        ``source`` stays the NumPy code. Raises ``CompileError`` for a graph with an op
        that has no portable form."""
        source, fn = self._portable_variant()
        if source is None:
            raise fn
        return source

    def _portable_variant(self) -> tuple:
        with self._lock:
            if self._portable is None:
                self._portable = _compile_portable(self)
        return self._portable

    def _other_arrays(self, *args):
        """Called by the generated NumPy code for arguments its class test did not
        recognise: the portable variant for another library's arrays, None (go on
        with the NumPy code) for anything else (NumPy subclasses, other numbers)."""
        library = next((lib for lib in map(portable_runtime.foreign_library, args) if lib),
                       None)
        if library is None:
            return None
        source, fn = self._portable_variant()
        if source is None:
            raise CompileError(f"{fn}: {self.name} cannot run on {library} arrays; "
                               f"pass NumPy arrays") from None
        return fn

    @property
    def chosen(self) -> dict:
        """``backend="numba"``: the variant (``"numba"`` or ``"numpy"``) each class of
        sizes (``"small"``, ``"big"``) runs, once measured on the first calls."""
        return self._trial.chosen if self._trial is not None else {}

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """``backend="numba"``: wait until the kernels compiling on a thread (a first
        compilation, see ``function``) are in place; False if ``timeout`` (seconds)
        passed first or the compilation failed (the NumPy code runs on)."""
        pending = self._compiling
        if pending is None:
            return True
        return pending.done.wait(timeout) and pending.error is None

    def release_buffers(self) -> None:
        """Free the temporaries kept for the next call (the next call makes new ones)."""
        pool = self._fn.__globals__.get("_pool")
        if pool is not None:
            pool.clear()

    @property
    def kept_bytes(self) -> int:
        """Bytes of the temporaries kept for the next call (one call's set)."""
        pool = self._fn.__globals__.get("_pool") or [{}]
        return max(sum(a.nbytes for a in kept.values()) for kept in list(pool))

    def __repr__(self) -> str:
        params = ", ".join(f"{v.name}: {type_str(v)}" for v in self.inputs)
        return f"<symdiff.Function {self.name}({params})>"

    def _repr_html_(self) -> str:
        # Highlighted with Pygments when it is there (it comes with IPython).
        from html import escape
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import PythonLexer
        except ImportError:
            return f"<pre><code class='language-python'>{escape(self.source)}</code></pre>"
        return highlight(self.source, PythonLexer(), HtmlFormatter(noclasses=True))


BACKENDS = ("numpy", "numba")


def function(inputs: Sequence[Var] | Var, outputs: Sequence[Node] | Node, *,
             optimize: bool = True, name: str | None = None,
             readable: bool = False, backend: str = "numpy") -> Function:
    """Compile ``outputs`` as a NumPy function of ``inputs`` (positional in this order,
    or by name). One output gives one array, a list gives a tuple.

    ``optimize=False`` compiles the graph as it is, without simplifying it.
    ``readable=True`` generates code for reading and debugging: a new array for each
    node (no buffer reuse, in-place or ``out=`` forms, kept buffers or ``del``), in
    NumPy only; it computes the same values, a little slower.

    ``backend="numba"`` (the extra ``symdiff[numba]``) fuses the chains of elementwise
    work into compiled loops (``numba_printer.py``); the compiled code is cached on
    disk (``numba_cache.py``), so a later process loads it without compiling. When it
    is not in the cache yet, compiling takes seconds: it runs on a thread of its own,
    and until it is done calls run the NumPy code printed from the same graph (the
    same values, up to rounding). Then the first calls measure which variant is
    faster. ``f.wait_compiled()`` waits for the compiled code; the interpreter waits
    for it at exit, so that the next process finds it in the cache. With
    ``SYMDIFF_NUMBA_BACKGROUND=0`` ``function`` compiles before it returns.
    """
    if backend not in BACKENDS:
        raise CompileError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, "
                           f"not {backend!r}")
    inputs = [inputs] if isinstance(inputs, Node) else list(inputs)
    single = isinstance(outputs, Node)
    outputs = [outputs] if single else list(outputs)
    outputs = [as_node(o) for o in outputs]
    _check_inputs(inputs, outputs)
    key = (tuple(v.id for v in inputs), tuple(o.id for o in outputs), single, optimize, name,
           readable, backend)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    with gc_paused():
        fn = _compile(inputs, outputs, single, optimize, name, readable, backend)
    with _CACHE_LOCK:   # another thread may have compiled the same key: keep the first
        fn = _CACHE.setdefault(key, fn)
        _CACHE.move_to_end(key)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return fn


def _compile(inputs: list[Var], outputs: list[Node], single: bool, optimize: bool,
             name: str | None, readable: bool, backend: str) -> Function:
    fname = name or _function_name(inputs, outputs)
    pending = None
    if backend == "numba":
        source, compiled, pending = _compile_numba(inputs, outputs, single, optimize, fname,
                                                   readable)
    else:
        graph = outputs
        if optimize:
            graph = _optimized(outputs)
        plan = make_plan(inputs, graph, fname, single, documented=outputs, readable=readable,
                         other_arrays=True)
        source, namespace = function_source(plan)
        filename = f"<symdiff-{next(_serial)}:{fname}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), namespace)  # only code we generated
        compiled = namespace[fname]
    cls = type("Function", (Function,), {"__module__": Function.__module__})
    fn = cls(inputs, outputs, single, source, compiled, fname)
    fn._optimize = optimize   # the simplified graph is not kept: made again when needed
    if backend == "numba":
        # The numba module's functions have no class test of their own: a small
        # dispatcher makes it (the NumPy backend's test is inside its generated code).
        cls.__call__ = staticmethod(_dispatcher(fn))
        dispatch_globals = cls.__call__.__globals__

        def rebind(winner: Any) -> None:
            fn._fn = winner
            dispatch_globals["_numpy_path"] = winner

        def install(trial: Any) -> None:
            if isinstance(trial, Measured):
                fn._trial = trial
                trial.rebind = rebind
            rebind(trial)
        if pending is not None:
            fn._compiling = pending
            pending.start(install)
        elif isinstance(compiled, Measured):
            install(compiled)
        return fn
    # The source imports symdiff.runtime's _other_arrays (NumPy only, for the source run
    # on its own); this function's namespace takes the method that knows its variant.
    # A class per function whose __call__ is the generated function itself: no wrapper
    # per call.
    namespace["_other_arrays"] = fn._other_arrays
    cls.__call__ = staticmethod(fn._fn)
    return fn


def _compile_numba(inputs: list[Var], outputs: list[Node], single: bool, optimize: bool,
                   fname: str, readable: bool) -> tuple[str, Any, "_Compiling | None"]:
    """(source, function, pending): the function with fused Numba kernels from the disk
    cache when it has them (the key is the graph before simplification, so a hit skips
    the rewrites); else, unless ``SYMDIFF_NUMBA_BACKGROUND=0``, the NumPy code and the
    kernels ``pending`` to compile on a thread."""
    try:
        from . import numba_cache, numba_printer
        from .numba_printer import numba_source
    except ImportError as err:   # numba_cache imports numba only when it runs
        raise CompileError(f"backend='numba' needs Numba ({err}); "
                           f"pip install 'symdiff[numba]'") from None
    if importlib.util.find_spec("numba") is None:
        raise CompileError("backend='numba' needs Numba: pip install 'symdiff[numba]'")
    text = numba_cache.graph_text(inputs, outputs, ("numba", single, optimize, fname,
                                                    readable, numba_printer.MIN_REGION))
    key = numba_cache.entry_key(text)
    module = numba_cache.load(key)
    if module is not None:
        return module.__symdiff_source__, _variants(module, fname, inputs), None
    graph = outputs
    if optimize:
        graph = _optimized(outputs)
    # One array per node: the kernels hold the temporaries that matter.
    plan = make_plan(inputs, graph, fname, single, documented=outputs,
                     keep_buffers=False, readable=True)
    kernel_text, held, kernels = numba_source(plan)
    numpy_name = fname if not kernels else f"_{fname}_np"
    numpy_plan = make_plan(inputs, graph, numpy_name, single, documented=outputs,
                           readable=readable)
    numpy_text, numpy_held = function_source(numpy_plan)
    if not kernels:   # nothing to fuse: the NumPy code alone, and no Numba to load
        module = numba_cache.store(key, numpy_text, numpy_held)
        return numpy_text, vars(module)[fname], None
    # Both variants in one module; the first calls measure which is faster.
    source, held = kernel_text + "\n\n" + numpy_text, {**held, **numpy_held}
    if os.environ.get("SYMDIFF_NUMBA_BACKGROUND", "1") == "0":
        module = numba_cache.store(key, source, held)
        return source, _variants(module, fname, inputs), None
    filename = f"<symdiff-{next(_serial)}:{fname}:numpy>"
    linecache.cache[filename] = (len(numpy_text), None, numpy_text.splitlines(True), filename)
    namespace = dict(numpy_held)
    exec(compile(numpy_text, filename, "exec"), namespace)  # only code we generated
    pending = _Compiling(lambda: _variants(numba_cache.store(key, source, held), fname,
                                           inputs), fname)
    return source, namespace[numpy_name], pending


def _variants(module: Any, fname: str, inputs: list[Var]) -> Any:
    """The module's function: its two variants on trial, or its NumPy code alone."""
    numpy_variant = vars(module).get(f"_{fname}_np")
    if numpy_variant is None:
        return vars(module)[fname]
    return measured(vars(module)[fname], numpy_variant, inputs)


class _Compiling:
    """A function's kernels compiling on a thread; ``install`` takes the result."""

    def __init__(self, build: Any, name: str) -> None:
        self.build, self.name = build, name
        self.done = threading.Event()
        self.error: Exception | None = None

    def start(self, install: Any) -> None:
        # Not a daemon: the interpreter waits for it at exit, so the cache gets the code.
        threading.Thread(target=self._run, args=(install,), name=f"symdiff-numba-{self.name}",
                         daemon=False).start()

    def _run(self, install: Any) -> None:
        try:
            install(self.build())
        except Exception as err:   # the NumPy code runs on, and says why once
            self.error = err
            warnings.warn(f"backend='numba': compiling {self.name} failed "
                          f"({type(err).__name__}: {err}); it runs its NumPy code",
                          RuntimeWarning, stacklevel=1)
        finally:
            self.done.set()


def _dispatcher(fn: Function):
    """``fname(*params)``: the NumPy code when every argument's class is one it takes
    as it is, else what ``Function._other_arrays`` returns (the portable variant for
    another library's arrays, or None: the NumPy code after all)."""
    params = ", ".join(v.name for v in fn.inputs)
    test = " and ".join(f"{v.name}.__class__ in _native" for v in fn.inputs) or "True"
    source = (f"def {fn.name}({params}):\n"
              f"    if {test}:\n"
              f"        return _numpy_path({params})\n"
              f"    _run = _other_arrays({params})\n"
              f"    return (_run or _numpy_path)({params})\n")
    namespace = {"_native": runtime._native, "_numpy_path": fn._fn,
                 "_other_arrays": fn._other_arrays}
    filename = f"<symdiff-{next(_serial)}:{fn.name}:dispatch>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    dispatch = namespace[fn.name]
    dispatch.__doc__ = fn._fn.__doc__
    return dispatch


def _compile_portable(fn: Function) -> tuple:
    """(source, function) of the portable variant, or (None, the NoPortableForm error)."""
    with gc_paused():
        graph = fn.outputs
        if fn._optimize:
            graph = _optimized(fn.outputs, symmetric_inputs=False)
        plan = make_plan(fn.inputs, graph, fn.name, fn.single, documented=fn.outputs,
                         keep_buffers=False, readable=True)
        try:
            source, held = portable_source(plan)
        except NoPortableForm as err:
            return None, err
    filename = f"<symdiff-{next(_serial)}:{fn.name}:portable>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(held)
    exec(compile(source, filename, "exec"), namespace)  # only code we generated
    return source, namespace[fn.name]


def module_source(inputs: Sequence[Var], outputs: Sequence[Node], name: str, *,
                  doc: str = "", optimize: bool = True) -> str:
    """A standalone Python module (NumPy only) defining ``name(*inputs)`` -> outputs."""
    inputs, outputs = list(inputs), list(outputs)
    _check_inputs(inputs, outputs)
    with gc_paused():
        graph = outputs
        if optimize:
            graph = _optimized(outputs)
        plan = make_plan(inputs, graph, name, single=False, documented=outputs,
                         keep_buffers=False)
        return module_source_text(plan, doc)


def _optimized(outputs: list[Node], symmetric_inputs: bool = True) -> list[Node]:
    """The graph simplified, then with computed inverses reused by the solves and one
    SVD per matrix.

    ``symmetric_inputs``: the rewrites take the variables declared symmetric to be so
    (``S.T -> S``); the NumPy printers check those arguments at each call. The portable
    variant does not (a test would compute a lazy array), so it does not assume it."""
    from ..rewrite import run
    from .shared_inverse import share_inverses
    from .gram import use_grams
    from .shared_svd import share_svds
    return use_grams(share_svds(share_inverses(
        run(outputs, symmetric_inputs=symmetric_inputs)[0], symmetric_inputs)))


def _check_inputs(inputs: list, outputs: list[Node]) -> None:
    names: dict[str, Var] = {}
    for v in inputs:
        if not isinstance(v, Var):
            raise CompileError(f"function inputs must be variables, got {v!r}")
        why = ("it is not a Python identifier" if not v.name.isidentifier()
               else "it is a Python keyword" if keyword.iskeyword(v.name)
               else "the generated code uses that name" if v.name in RESERVED else None)
        if why is not None:
            raise CompileError(f"input name {v.name!r} cannot be a parameter name: {why}")
        if v.name in names:
            if names[v.name] is v:
                raise CompileError(f"input {v.name!r} is listed twice")
            raise CompileError(f"two different inputs are named {v.name!r} "
                               f"({_var_type(names[v.name])} and {_var_type(v)})")
        names[v.name] = v
    for node in toposort(outputs):
        if isinstance(node, Var):
            known = names.get(node.name)
            if known is None:
                raise CompileError(f"the outputs depend on {node.name!r} ({type_str(node)}), "
                                   f"which is not among the inputs "
                                   f"[{', '.join(names) or 'none'}]")
            if known is not node:
                raise CompileError(f"two different variables are named {node.name!r}: "
                                   f"{_var_type(known)} (an input) and {_var_type(node)}")


def _var_type(v: Var) -> str:
    """A variable's type as the errors name it: ``f64[3,3]``, ``f64[3,3] symmetric``."""
    return type_str(v) + (" symmetric" if v.symmetric else "")


def _function_name(inputs: list[Var], outputs: list[Node]) -> str:
    wrt = []
    for o in outputs:
        g = meta(o, "grad_of")
        if g is not None and g[1].op.name == "var" and g[1].name not in wrt:
            wrt.append(g[1].name)
    if wrt:
        values = any(meta(o, "grad_of") is None for o in outputs)
        name = ("value_and_grad_" if values else "grad_") + "_".join(wrt)
    else:
        name = "f_" + "_".join(v.name for v in inputs) if inputs else "f"
    name = name[:60]
    return name if name.isidentifier() and not keyword.iskeyword(name) else "f"
