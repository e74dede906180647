"""Newton's method on L2-regularized logistic regression, with compiled derivatives.

    L(w) = mean(softplus(X @ w) - y * (X @ w)) + lam/2 * sum(w**2),  y in {0, 1}

symdiff compiles the value, `sd.grad` and `sd.hessian` into one function; each
Newton step solves H d = g. The same iteration with hand-written NumPy
derivatives (g = X.T (p - y) / n + lam w, H = X.T diag(p (1 - p)) X / n + lam I)
is the reference: both must reach the same minimizer in the same number of
steps. Times are medians of 5 solves. Run with `python -m bench --only newton`.
"""

import statistics
import time

import numpy as np

N, D, LAM = 2000, 20, 1e-2
TOL, MAX_ITER = 1e-10, 50
SEED = 7
REPEATS = 5  # solves timed per contender; the median is reported


def make_data(seed=SEED):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    w_true = rng.standard_normal(D)
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-X @ w_true))).astype(np.float64)
    return X, y


def hand_derivatives(w, X, y):
    z = X @ w
    p = 1.0 / (1.0 + np.exp(-z))
    loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * LAM * np.dot(w, w)
    grad = X.T @ (p - y) / N + LAM * w
    hess = (X.T * (p * (1.0 - p))) @ X / N + LAM * np.eye(D)
    return loss, grad, hess


def compile_symdiff(sd):
    w, X, y = sd.vector("w", shape=D), sd.matrix("X"), sd.vector("y")
    z = X @ w
    loss = sd.mean(sd.softplus(z) - y * z) + 0.5 * LAM * sd.sum(w**2)
    return sd.function([w, X, y], [loss, sd.grad(loss, w), sd.hessian(loss, w)])


def newton(derivatives, X, y, log=None):
    """Minimize from w = 0; returns (w, iterations, seconds, history)."""
    w = np.zeros(D)
    history = []
    start = time.perf_counter()
    for iteration in range(1, MAX_ITER + 1):
        loss, grad, hess = derivatives(w, X, y)
        grad_norm = float(np.max(np.abs(grad)))
        history.append((float(loss), grad_norm))
        if log:
            log(f"  iter {iteration:2d}  loss {float(loss):.12f}  |grad|_inf {grad_norm:.3e}")
        if grad_norm < TOL:
            break
        w = w - np.linalg.solve(hess, grad)
    return w, iteration, time.perf_counter() - start, history


def timed_newton(derivatives, X, y, log=None, repeats=REPEATS):
    """newton(), with its time replaced by the median over `repeats` solves."""
    w, iterations, seconds, history = newton(derivatives, X, y, log=log)
    times = [seconds] + [newton(derivatives, X, y)[2] for _ in range(repeats - 1)]
    return w, iterations, statistics.median(times), history


def run(sd=None, log=print):
    """Run both; a dict for the report. sd is the symdiff module (or None if missing)."""
    X, y = make_data()
    w_ref, it_ref, t_ref, hist_ref = timed_newton(hand_derivatives, X, y)
    result = {
        "problem": f"n={N}, d={D}, lam={LAM}, stop at |grad|_inf < {TOL:g}",
        "hand": {"iterations": it_ref, "seconds": t_ref, "final_loss": hist_ref[-1][0]},
    }
    if sd is None or not hasattr(sd, "hessian"):
        result["symdiff"] = {"error": "symdiff.hessian is not available"}
        log(f"newton: symdiff n/a ({result['symdiff']['error']})")
        return result
    try:
        start = time.perf_counter()
        f = compile_symdiff(sd)
        compile_s = time.perf_counter() - start
        log(f"newton ({result['problem']}), symdiff:")
        w, iterations, seconds, history = timed_newton(f, X, y, log=log)
    except Exception as exc:
        result["symdiff"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        log(f"newton: symdiff n/a ({result['symdiff']['error']})")
        return result
    agrees = bool(np.allclose(w, w_ref, rtol=1e-8, atol=1e-10))
    result["symdiff"] = {
        "iterations": iterations, "seconds": seconds, "compile_s": compile_s,
        "final_loss": history[-1][0], "agrees_with_hand": agrees,
    }
    log(
        f"newton: symdiff {iterations} iterations in {seconds * 1e3:.1f} ms "
        f"(compile {compile_s * 1e3:.0f} ms); hand-written {it_ref} iterations in "
        f"{t_ref * 1e3:.1f} ms; same minimizer: {'yes' if agrees else 'NO -- FAIL'}"
    )
    return result


if __name__ == "__main__":
    import symdiff

    run(symdiff)
