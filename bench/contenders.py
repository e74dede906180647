"""The contenders: hand-written NumPy, symdiff and the peer libraries.

A contender is loaded once (`load_contenders`); an import that fails leaves it
unavailable, with the reason kept for the report. `build(workload, inputs)`
does everything a user does before the first result -- build the graph, take
the gradient, compile -- and returns

    (call, to_numpy, info)

where `call()` runs one evaluation and returns the outputs in the library's own
types (this is what is timed) and `to_numpy(result)` turns them into a list of
NumPy arrays for checking (not timed). Inputs are converted to the library's
array type once, outside the timed call, as a user of that library would keep
them. JAX results are waited for with `block_until_ready` inside the call.
"""

import importlib.metadata
import warnings
from functools import partial
from types import SimpleNamespace

import numpy as np

NAMES = ("hand", "symdiff", "symdiff_numba", "autograd", "jax", "pytensor", "torch")
PEERS = ("autograd", "jax", "pytensor", "torch")


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _as_list(result):
    if isinstance(result, (tuple, list)):
        return [np.asarray(r) for r in result]
    return [np.asarray(result)]


def _model_fn(workload, m, inputs):
    """`fn(params, *rest)` with params the inputs in `wrt`, rest the others in order."""
    rest_names = [n for n in inputs if n not in workload.wrt]

    def fn(params, *rest):
        kwargs = dict(zip(workload.wrt, params))
        kwargs.update(zip(rest_names, rest))
        return workload.model(m, **kwargs)

    return fn, rest_names


class Contender:
    name = ""
    dist = None  # distribution name for the version

    def __init__(self):
        self.available = True
        self.error = None
        self.version = _version(self.dist) if self.dist else None
        self.notes = []

    def build(self, workload, inputs):
        raise NotImplementedError


class Hand(Contender):
    name = "hand"
    dist = "numpy"

    def build(self, workload, inputs):
        return partial(workload.hand, *inputs.values()), _as_list, {}


class Symdiff(Contender):
    name = "symdiff"
    dist = "symdiff"
    static_shapes = False  # True: declare every input's lengths (--static-shapes)
    backend = "numpy"

    def __init__(self):
        super().__init__()
        import symdiff

        self.sd = symdiff
        for needed in ("function", "grad"):
            if not hasattr(symdiff, needed):
                raise ImportError(f"symdiff has no attribute '{needed}' yet")

    def variable(self, name, value, static, symmetric=False):
        """A variable of the value's rank; its lengths are declared only if static."""
        sd = self.sd
        shape = np.shape(value)
        if not shape:
            return sd.scalar(name)
        declared = shape if static else None
        if len(shape) == 1:
            return sd.vector(name, shape=declared)
        if len(shape) == 2:
            return sd.matrix(name, shape=declared, symmetric=symmetric)
        return sd.tensor(name, shape=declared or (None,) * len(shape), symmetric=symmetric)

    def build(self, workload, inputs):
        sd = self.sd
        static = self.static_shapes or workload.static_shapes
        variables = {
            name: self.variable(name, value, static, name in workload.symmetric)
            for name, value in inputs.items()
        }
        cost = workload.model(sd, **variables)
        wrt = [variables[name] for name in workload.wrt]
        if workload.kind == "hessian":
            outputs = [sd.hessian(cost, wrt[0])]
        else:
            outputs = [cost, *sd.grad(cost, wrt)]
        f = sd.function(list(variables.values()), outputs, backend=self.backend)
        return partial(f, *inputs.values()), _as_list, {"function": f}


class SymdiffNumba(Symdiff):
    """symdiff's compiled backend (the extra symdiff[numba]); its first call includes
    importing Numba and compiling, or loading from the disk cache when it has the
    function (SYMDIFF_CACHE_DIR)."""
    name = "symdiff_numba"
    backend = "numba"

    def __init__(self):
        super().__init__()
        import numba

        self.version = f"{self.version} (numba {numba.__version__})"


class Autograd(Contender):
    name = "autograd"
    dist = "autograd"

    def __init__(self):
        super().__init__()
        import autograd
        import autograd.numpy as anp
        import autograd.scipy.special as special

        self.autograd = autograd
        self.m = SimpleNamespace(
            sigmoid=special.expit, exp=anp.exp, sin=anp.sin, sum=anp.sum, mean=anp.mean,
            logsumexp=special.logsumexp, solve=anp.linalg.solve,
            logdet=lambda a: anp.linalg.slogdet(a)[1],
        )

    def build(self, workload, inputs):
        fn, rest_names = _model_fn(workload, self.m, inputs)
        params = tuple(inputs[n] for n in workload.wrt)
        rest = [inputs[n] for n in rest_names]
        if workload.kind == "hessian":
            hess = self.autograd.hessian(lambda x, *r: fn((x,), *r))
            return partial(hess, params[0], *rest), _as_list, {}
        value_and_grad = self.autograd.value_and_grad(fn)
        return partial(value_and_grad, params, *rest), _flatten_value_and_grad, {}


def _flatten_value_and_grad(result):
    value, grads = result
    return _as_list([value, *grads])


class Jax(Contender):
    name = "jax"
    dist = "jax"

    def __init__(self):
        super().__init__()
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        self.jax, self.jnp = jax, jnp
        self.m = SimpleNamespace(
            sigmoid=jax.nn.sigmoid, exp=jnp.exp, sin=jnp.sin, sum=jnp.sum, mean=jnp.mean,
            logsumexp=jax.nn.logsumexp, solve=jnp.linalg.solve,
            logdet=lambda a: jnp.linalg.slogdet(a)[1],
        )
        self.notes.append(f"jax_enable_x64, jax.jit, backend {jax.default_backend()}")

    def build(self, workload, inputs):
        jax, jnp = self.jax, self.jnp
        fn, rest_names = _model_fn(workload, self.m, inputs)
        params = tuple(jnp.asarray(inputs[n]) for n in workload.wrt)
        rest = [jnp.asarray(inputs[n]) for n in rest_names]
        if workload.kind == "hessian":
            f = jax.jit(jax.hessian(lambda x, *r: fn((x,), *r)))
            args = (params[0], *rest)
            to_numpy = _as_list
        else:
            f = jax.jit(jax.value_and_grad(fn))
            args = (params, *rest)
            to_numpy = _flatten_value_and_grad
        block = jax.block_until_ready

        def call():
            return block(f(*args))

        return call, to_numpy, {"function": f}


class Pytensor(Contender):
    name = "pytensor"
    dist = "pytensor"

    def __init__(self):
        super().__init__()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import pytensor
            import pytensor.tensor as pt
        for warning in caught:
            if "BLAS" in str(warning.message):
                self.notes.append("C BLAS not linked (pip install)")
        self.pytensor, self.pt = pytensor, pt
        self.m = SimpleNamespace(
            sigmoid=pt.sigmoid, exp=pt.exp, sin=pt.sin, sum=pt.sum, mean=pt.mean,
            logsumexp=pt.logsumexp, solve=pt.linalg.solve,
            logdet=lambda a: pt.log(pt.abs(pt.linalg.det(a))),
        )
        mode = pytensor.compile.mode.get_default_mode()
        self.notes.append(f"default mode, linker {type(mode.linker).__name__}")

    def variable(self, name, value):
        ndim = np.ndim(value)
        return self.pt.tensor(name=name, dtype="float64", shape=(None,) * ndim)

    def build(self, workload, inputs):
        pytensor = self.pytensor
        variables = {name: self.variable(name, value) for name, value in inputs.items()}
        cost = workload.model(self.m, **variables)
        wrt = [variables[name] for name in workload.wrt]
        if workload.kind == "hessian":
            outputs = [pytensor.gradient.hessian(cost, wrt[0])]
        else:
            outputs = [cost, *pytensor.grad(cost, wrt)]
        f = pytensor.function(list(variables.values()), outputs)
        args = [np.asarray(v, dtype=np.float64) for v in inputs.values()]
        return partial(f, *args), _as_list, {"function": f}


def _torch_sum(torch):
    def sum_(x, axis=None):
        return torch.sum(x) if axis is None else torch.sum(x, dim=axis)

    return sum_


class Torch(Contender):
    name = "torch"
    dist = "torch"

    def __init__(self):
        super().__init__()
        import torch

        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        self.torch = torch
        self.m = SimpleNamespace(
            sigmoid=torch.sigmoid, exp=torch.exp, sin=torch.sin, sum=_torch_sum(torch),
            mean=torch.mean, logsumexp=lambda x, axis: torch.logsumexp(x, dim=axis),
            solve=torch.linalg.solve, logdet=lambda a: torch.linalg.slogdet(a)[1],
        )
        self.notes.append("float64, eager, torch.autograd.grad / torch.func.hessian")

    def build(self, workload, inputs):
        torch = self.torch
        fn, rest_names = _model_fn(workload, self.m, inputs)
        rest = [torch.tensor(inputs[n], dtype=torch.float64) for n in rest_names]
        if workload.kind == "hessian":
            x = torch.tensor(inputs[workload.wrt[0]], dtype=torch.float64)
            hess = torch.func.hessian(lambda x, *r: fn((x,), *r))
            return partial(hess, x, *rest), _torch_to_numpy, {}
        params = tuple(
            torch.tensor(inputs[n], dtype=torch.float64, requires_grad=True) for n in workload.wrt
        )
        grad = torch.autograd.grad

        def call():
            cost = fn(params, *rest)
            return (cost, *grad(cost, params))

        return call, _torch_to_numpy, {}


def _torch_to_numpy(result):
    if not isinstance(result, (tuple, list)):
        result = [result]
    return [r.detach().numpy() for r in result]


CLASSES = {c.name: c for c in (Hand, Symdiff, SymdiffNumba, Autograd, Jax, Pytensor, Torch)}


def load_contenders(names=NAMES):
    """name -> Contender; an unavailable one has .available False and .error set."""
    loaded = {}
    for name in names:
        cls = CLASSES[name]
        try:
            loaded[name] = cls()
        except Exception as exc:  # ImportError, or a library failing on import
            stub = Contender.__new__(cls)
            stub.available, stub.notes = False, []
            stub.version = _version(cls.dist)
            stub.error = f"{type(exc).__name__}: {exc}"
            loaded[name] = stub
    return loaded
