"""Graphs built, differentiated, simplified and compiled by 8 threads at once give what
one thread gives: the same printed forms, the same numbers, one node per structure.

Why the comparison by ``str`` is fair: simplification orders operands by node id (age),
so its printed form depends on the order in which nodes were made. Every thread runs
the same program, and a node is made by the first thread that asks for it, which has
already asked for every node the program asks for earlier: new nodes come out in
program order whatever the interleaving, as with one thread. The reference run keeps
the graphs of the first stage alive (as the compiled functions' cache does), so in the
threaded run they are found, not made; everything later is made again, by the threads.

A tiny switch interval makes the threads swap every few bytecodes, inside the hash-
consing and id code as elsewhere.
"""
import gc
import sys
import threading
from collections import defaultdict

import numpy as np

import symdiff as sd
from symdiff.ir import toposort

N_THREADS = 8


def variables():
    return (sd.scalar("thr_x"), sd.scalar("thr_y"), sd.vector("thr_v", 3),
            sd.matrix("thr_W", (2, 3)))


def deep_chain(x, y, v, W):
    t = x
    for _ in range(12):
        t = sd.sin(t) * sd.exp(0.1 * t) + 0.01 * t ** 2 * y
    return t


def network(x, y, v, W):
    h = sd.sigmoid(W @ v + x)
    return sd.sum((h - y) ** 2) + 1e-3 * sd.sum(W * W)


def stable_terms(x, y, v, W):
    return sd.log(1 + sd.exp(x * y)) + sd.sqrt(x ** 2 + 1) - sd.log(sd.sigmoid(y))


def reductions(x, y, v, W):
    return sd.logsumexp(v * x) + sd.sum(sd.softmax(v) * v) + sd.mean(sd.tanh(W) * y)


def guarded(x, y, v, W):
    return sd.sum(sd.where(v > 0, sd.sqrt(v), 0.0)) * y + sd.maximum(x, y) * x


MODELS = [deep_chain, network, stable_terms, reductions, guarded]
ARGS = (0.3, -0.7, np.array([0.5, -1.2, 2.0]), np.array([[0.1, -0.4, 0.3], [0.8, 0.2, -0.6]]))


def build(model):
    """Stage 1a: the cost and its gradient (the graphs compiled later)."""
    inputs = variables()
    cost = model(*inputs)
    return inputs, [cost, *sd.grad(cost, list(inputs))]


def program(raw: list, tag: str) -> dict:
    """The work of one thread: the same for all, after the graphs of ``raw`` exist."""
    out: dict = {"raw": [], "second": [], "simplified": [], "compiled": [], "keep": []}
    for model in MODELS:                            # 1a: found (they exist already)
        _, outputs = build(model)
        out["raw"].append([str(o) for o in outputs])
        out["keep"].append(outputs)
    for inputs, outputs in raw:                     # 1b: second order, made here
        x, y = inputs[0], inputs[1]
        second = [sd.grad(outputs[1], [x, y]), sd.grad(sd.sum(outputs[3]), [x, y])]
        second = [e for pair in second for e in pair]
        env = dict(zip([v.name for v in inputs], ARGS))
        out["second"].append(([str(e) for e in second],
                              [np.asarray(sd.evaluate(e, env)) for e in second]))
        out["keep"].append(second)
    for _, outputs in raw:                          # 2: simplified, made here
        simplified = sd.simplify(outputs)
        out["simplified"].append([str(e) for e in simplified])
        out["keep"].append(simplified)
    for k, (inputs, outputs) in enumerate(raw):     # 3: compiled (a new function each)
        f = sd.function(list(inputs), outputs, name=f"{tag}_{k}")
        out["compiled"].append([np.asarray(r) for r in f(*ARGS)])
    return out


def same_numbers(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(np.asarray(p), np.asarray(q), equal_nan=True) for p, q in zip(a, b))


def test_eight_threads_build_differentiate_simplify_and_compile_as_one():
    raw = [build(model) for model in MODELS]
    reference = program(raw, "one_thread")
    del reference["keep"]           # what the threads make again
    gc.collect()

    results: list = [None] * N_THREADS
    errors: list = []
    start = threading.Barrier(N_THREADS)

    def work(k: int) -> None:
        try:
            start.wait()
            results[k] = program(raw, f"thread{k}")
        except BaseException as exc:    # reported below, with the thread's number
            errors.append((k, exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(N_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors

    # one node per structure, and one id per node, over everything the threads made
    nodes = {id(n): n for r in results for graph in r["keep"] for n in toposort(graph)}
    by_id = defaultdict(list)
    by_structure = defaultdict(list)
    for n in nodes.values():
        by_id[n.id].append(n)
        key = (type(n), n.op.name, tuple(i.id for i in n.inputs), n.attrs, n.dtype.str, n.shape)
        by_structure[key].append(n)
    assert all(len(same) == 1 for same in by_id.values()), "an id was handed out twice"
    assert all(len(same) == 1 for same in by_structure.values()), "a structure made twice"

    for k, r in enumerate(results):
        assert r["raw"] == reference["raw"], k
        assert r["simplified"] == reference["simplified"], k
        for (texts, values), (want_texts, want_values) in zip(r["second"],
                                                               reference["second"]):
            assert texts == want_texts, k
            assert same_numbers(values, want_values), k
        for got, want in zip(r["compiled"], reference["compiled"]):
            assert same_numbers(got, want), k



def test_gc_stays_paused_until_the_last_overlapping_block_closes():
    # Thread A opens a pause, B opens one, A closes: B is still building its graph, so
    # the collector must stay off until B closes too, and then come back on.
    from symdiff.ir import gc_paused
    assert gc.isenabled()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with gc_paused():
            a_in.set()
            b_in.wait()
        a_out.set()

    def b():
        a_in.wait()
        with gc_paused():
            b_in.set()
            a_out.wait()
            seen["inside B after A closed"] = gc.isenabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"inside B after A closed": False}
    assert gc.isenabled()
