"""Display: networkx/DOT export, the SVG graph view, LaTeX, and ``explain``."""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy

import symdiff as sd
from symdiff.display import explain, node_kind, show, to_dot, to_networkx
from symdiff.ir import Node, toposort

# -- fixtures ------------------------------------------------------------------------


def mlp():
    """The 2-2-2 sigmoid network with an MSE cost (the lecture's worked example)."""
    x, t = sd.vector("x", 2), sd.vector("t", 2)
    W1, W2 = sd.matrix("W1", (2, 2)), sd.matrix("W2", (2, 2))
    b1, b2 = sd.scalar("b1"), sd.scalar("b2")
    h = sd.sigmoid(W1 @ x + b1)
    y = sd.sigmoid(W2 @ h + b2)
    cost = 0.5 * sd.sum((y - t) ** 2)
    at = dict(x=[0.05, 0.10], W1=[[0.15, 0.20], [0.25, 0.30]], b1=0.35,
              W2=[[0.40, 0.45], [0.50, 0.55]], b2=0.60, t=[0.01, 0.99])
    return cost, [W1, b1, W2, b2], at


def scalar_chain():
    x, y = sd.scalar("x"), sd.scalar("y")
    u = x * y
    cost = sd.sin(u) * u + sd.exp(x) / (1 + y ** 2)   # u used twice: two consumers
    return cost, [x, y], {"x": 0.7, "y": -1.3}


def broadcast_case():
    W, v, b = sd.matrix("W", (3, 4)), sd.vector("v", 4), sd.scalar("b")
    z = sd.tanh(W @ v + b)
    cost = sd.sum(z * z) + sd.mean(sd.softplus(W))
    rng = np.random.default_rng(0)
    return cost, [W, b], {"W": rng.normal(size=(3, 4)), "v": rng.normal(size=4), "b": 0.3}


CASES = [mlp, scalar_chain, broadcast_case]


# -- networkx and DOT ------------------------------------------------------------------

def test_to_networkx_kinds_and_attributes():
    cost, wrt, _ = mlp()
    grads = sd.grad(cost, wrt)
    g = to_networkx([cost, *grads])
    assert g.number_of_nodes() == len(toposort([cost, *grads]))
    kinds = {data["kind"] for _, data in g.nodes(data=True)}
    assert kinds == {"input", "const", "forward", "derivative"}
    for nid, data in g.nodes(data=True):
        assert set(data) >= {"op", "label", "shape", "dtype", "kind", "is_output", "title"}
        assert data["kind"] == node_kind(data["expr"])
    outputs = [n for n, d in g.nodes(data=True) if d["is_output"]]
    assert sorted(outputs) == sorted({o.id for o in [cost, *grads]})
    # forward nodes never consume derivative nodes
    for a, b in g.edges:
        if g.nodes[b]["kind"] == "forward":
            assert g.nodes[a]["kind"] != "derivative"
    assert {g.nodes[w.id]["kind"] for w in wrt} == {"input"}
    assert g.nodes[grads[0].id]["output"] == "\u2202/\u2202W1"


def test_to_networkx_repeated_input():
    x = sd.scalar("x")
    g = to_networkx(x * x)
    (edge,) = g.edges(data=True)
    assert edge[2]["indices"] == (0, 1)


def test_to_dot_one_statement_per_node_and_edge():
    cost, wrt, _ = mlp()
    outs = [cost, *sd.grad(cost, wrt)]
    dot = to_dot(outs)
    g = to_networkx(outs)
    assert dot.startswith("digraph")
    assert len(re.findall(r"^  n\d+ \[", dot, re.M)) == g.number_of_nodes()
    assert len(re.findall(r"^  n\d+ -> n\d+", dot, re.M)) == g.number_of_edges()
    assert 'class="node derivative' in dot


# -- the SVG view ---------------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


def _svg_nodes(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [el for el in root.iter(f"{SVG}g") if "node" in el.get("class", "").split()]


ENGINES = ["python", pytest.param("dot", marks=pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed"))]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES)
def test_svg_has_one_element_per_node_with_derivatives_marked(case, engine):
    cost, wrt, _ = case()
    outs = [cost, *sd.grad(cost, wrt)]
    view = show(outs, engine=engine)
    svg = view._repr_svg_()
    assert view.engine_used == engine
    g = to_networkx(outs)
    elements = _svg_nodes(svg)
    assert len(elements) == g.number_of_nodes()
    by_id = {el.get("id"): el for el in elements}
    assert set(by_id) == {f"n{n}" for n in g.nodes}
    for n, data in g.nodes(data=True):
        classes = by_id[f"n{n}"].get("class").split()
        assert (data["kind"] == "derivative") == ("derivative" in classes)
        assert data["is_output"] == ("output" in classes)
        title = by_id[f"n{n}"].find(f"{SVG}title")
        assert title is not None and data["type"] in (title.text or "")
    assert sum(d["kind"] == "derivative" for _, d in g.nodes(data=True)) > 0


def test_svg_python_layout_has_legend_and_edges():
    cost, wrt, _ = mlp()
    outs = [cost, *sd.grad(cost, wrt)]
    root = ET.fromstring(show(outs, engine="python").svg)
    legend = [el for el in root.iter(f"{SVG}g") if el.get("class") == "legend"]
    assert len(legend) == 1
    text = " ".join(t.text or "" for t in legend[0].iter(f"{SVG}text"))
    assert "derivative" in text and "rewritten" in text and "input" in text
    edges = [p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    assert len(edges) == to_networkx(outs).number_of_edges()


def test_graph_view_text_and_bad_engine():
    x = sd.scalar("x")
    view = show(sd.grad(sd.sin(x) * x, x))
    assert "return" in str(view) and "GraphView" in repr(view)
    with pytest.raises(ValueError):
        show(x, engine="matplotlib")


def test_large_graph_renders():
    x = sd.vector("x", 3)
    y = x
    for k in range(60):
        y = sd.tanh(y * 1.01 + k)
    cost = sd.sum(y)
    svg = show([cost, sd.grad(cost, x)], engine="python").svg
    assert len(_svg_nodes(svg)) == to_networkx([cost, sd.grad(cost, x)]).number_of_nodes()


# -- LaTeX ------------------------------------------------------------------------------------

KNOWN_MACROS = {
    "left", "right", "frac", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin",
    "arccos", "arctan", "exp", "log", "max", "min", "sum", "prod", "odot", "cdot", "top",
    "sigma", "operatorname", "mathrm", "mathbf", "quad", "text", "begin", "end", "le", "ge",
    "ne", "lnot",
    "alpha", "beta", "gamma", "delta", "epsilon", "theta", "lambda", "mu", "tau", "phi",
    "psi", "omega", "eta", "rho", "xi", "kappa", "nu", "zeta", "chi",
}


def check_latex(tex: str) -> None:
    """A LaTeX-less sanity check: balanced braces and sizers, only known macros."""
    depth = 0
    for ch in tex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, tex
    assert depth == 0, tex
    assert tex.count(r"\left") == tex.count(r"\right"), tex
    assert tex.count(r"\begin") == tex.count(r"\end"), tex
    macros = set(re.findall(r"\\([A-Za-z]+)", tex))
    assert macros <= KNOWN_MACROS, macros - KNOWN_MACROS
    assert "^^" not in tex and "__" not in tex
    # no double superscript such as W^{\top}^{2}
    assert not re.search(r"\^\{[^{}]*\}\^", tex), tex


x_, y_ = sd.scalar("x"), sd.scalar("y")
X, Y = sympy.symbols("x y")

# (symdiff expression, the same expression in SymPy): printed alike up to whitespace.
SCALAR_LATEX = [
    (x_ + y_, X + Y),
    (x_ - y_, X - Y),
    (x_ * y_, X * Y),
    (x_ / y_, X / Y),
    (x_ ** 2, X ** 2),
    (x_ ** y_, X ** Y),
    (2 * x_, 2 * X),
    (-x_, -X),
    (sd.sin(x_), sympy.sin(X)),
    (sd.log(x_), sympy.log(X)),
    (sd.tanh(x_), sympy.tanh(X)),
    (sd.exp(x_), sympy.exp(X)),
    (sd.exp(-x_), sympy.exp(-X)),
    (sd.sqrt(x_), sympy.sqrt(X)),
    (sd.sqrt(x_ + 1), sympy.sqrt(X + 1)),
    (abs(x_), sympy.Abs(X)),
    (x_ ** 2 * sd.sin(x_), X ** 2 * sympy.sin(X)),
    ((x_ + 1) ** 2, (X + 1) ** 2),
    (x_ * (y_ + 1), X * (Y + 1)),
    (sd.sin(x_) / x_, sympy.sin(X) / X),
    (sd.maximum(x_, y_), sympy.Max(X, Y)),
    (x_ < y_, X < Y),
]


def _squash(tex: str) -> str:
    return re.sub(r"\s+", "", tex)


@pytest.mark.parametrize("expr, reference", SCALAR_LATEX, ids=[str(e) for e, _ in SCALAR_LATEX])
def test_scalar_latex_matches_sympy(expr, reference):
    tex = sd.to_latex(expr)
    check_latex(tex)
    assert _squash(tex) == _squash(sympy.latex(reference))
    assert expr._repr_latex_() == f"${tex}$"


W_, v_, b_ = sd.matrix("W", (3, 4)), sd.vector("v", 4), sd.vector("b", 3)
g_ = sd.vector("g", 3)
TENSOR_LATEX = [
    (W_ @ v_ + b_, r"W v + b"),
    (W_.T @ g_, r"W^{\top} g"),
    (g_ @ W_, r"W^{\top} g"),
    (v_ @ W_.T, r"W v"),
    (sd.outer(sd.sigmoid(W_ @ v_) * g_, v_), r"\right) v^{\top}"),
    (sd.sigmoid(W_ @ v_ + b_), r"\sigma"),
    (sd.sigmoid(W_ @ v_ + b_) * g_, r"\odot"),
    (sd.sum(sd.tanh(W_ @ v_) ** 2), r"\sum"),
    (sd.outer(g_, v_), r"g v^{\top}"),
    (sd.grad(sd.sum(sd.sigmoid(W_ @ v_ + b_)), W_), r"v^{\top}"),
    (sd.softmax(W_ @ v_), r"\operatorname{softmax}"),
    (sd.where(v_ > 0, v_, 0.0), r"\begin{cases}"),
    (sd.mean(sd.relu(W_), axis=0), r"\operatorname{mean}"),
    (sd.logsumexp(W_ @ v_), r"\log"),
    ((W_ @ v_).T, ""),
    (sd.square(W_.T), r"\left(W^{\top}\right)^{2}"),
    (W_[0] + b_[1:2].sum(), ""),
]


@pytest.mark.parametrize("expr, fragment", TENSOR_LATEX,
                         ids=[str(i) for i in range(len(TENSOR_LATEX))])
def test_tensor_latex_is_well_formed(expr, fragment):
    tex = sd.to_latex(expr)
    check_latex(tex)
    assert fragment in tex


def test_latex_of_gradients_is_well_formed():
    for case in CASES:
        cost, wrt, _ = case()
        for g in [cost, *sd.grad(cost, wrt)]:
            check_latex(sd.to_latex(g))


# -- explain -------------------------------------------------------------------------------------

def _path(cost: Node, wrt: list[Node]) -> set[int]:
    """Nodes that depend on some wrt input and that the cost depends on."""
    depends: set[int] = set()
    for node in toposort([cost]):
        if any(node is w for w in wrt) or any(i.id in depends for i in node.inputs):
            depends.add(node.id)
    return depends


def _finite_difference(cost: Node, env: dict, name: str, eps: float = 1e-6) -> np.ndarray:
    base = {k: np.array(v, dtype=float) for k, v in env.items()}
    grad = np.zeros_like(base[name])
    for idx in np.ndindex(base[name].shape):
        plus = {k: v.copy() for k, v in base.items()}
        minus = {k: v.copy() for k, v in base.items()}
        plus[name][idx] += eps
        minus[name][idx] -= eps
        grad[idx] = (sd.evaluate(cost, plus) - sd.evaluate(cost, minus)) / (2 * eps)
    return grad


@pytest.mark.parametrize("case", CASES)
def test_explain_lists_each_path_node_once(case):
    cost, wrt, _ = case()
    e = explain(cost, wrt)
    ids = [r.node.id for r in e.rows]
    assert len(ids) == len(set(ids))
    assert set(ids) == _path(cost, wrt)
    assert e.rows[0].is_cost and e.rows[0].node is cost and e.rows[0].gradient == "1"
    # reverse topological order: every consumer comes before the nodes it uses
    position = {nid: k for k, nid in enumerate(ids)}
    for r in e.rows:
        for i in r.node.inputs:
            if i.id in position:
                assert position[i.id] > position[r.node.id]
    assert {r.name for r in e.rows if r.is_wrt} == {w.name for w in wrt}
    for r in e.rows[1:]:
        assert r.consumers and r.rules and r.gradient


@pytest.mark.parametrize("case", CASES)
def test_explain_gradients_match_finite_differences(case):
    cost, wrt, at = case()
    e = explain(cost, wrt)
    for w in wrt:
        g = e.gradients[w.name]
        got = sd.evaluate(g, at)
        want = _finite_difference(cost, at, w.name)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
        # the same entry grad builds (hash-consed: the very same node)
        np.testing.assert_allclose(got, sd.evaluate(sd.grad(cost, w), at), rtol=1e-12)


def test_explain_with_values_worked_example():
    cost, wrt, at = mlp()
    e = explain(cost, wrt, at=at)
    np.testing.assert_allclose(e.row(cost).value, 0.298371108760003, rtol=1e-9)
    np.testing.assert_allclose(e.row("W2").grad_value,
                               [[0.08216704, 0.08266763], [-0.02260254, -0.02274024]],
                               rtol=1e-6)
    np.testing.assert_allclose(e.row("W1").grad_value,
                               [[0.00043857, 0.00087714], [0.00049771, 0.00099543]],
                               rtol=1e-4)
    # the sigmoid rows show the local rule s(1 - s) of the op, in the grad table's names
    sig = [r for r in e.rows if any("*(1 - " in rule for rule in r.rules)]
    assert len(sig) == 2
    text = str(e)
    assert "Forward pass" in text and "grad table entry" in text and "0.08217" in text
    for r in e.rows:
        assert r.name in text
    html = e._repr_html_()
    assert html.count("<tr") == len(e.rows) + 1 and "<table" in html
    named = explain(cost, wrt, cost_name="J")
    assert named.rows[0].name == "J" and named.row("t8").consumers == ["J"]


def test_explain_errors_and_unreached_wrt():
    x, y = sd.scalar("x"), sd.scalar("y")
    with pytest.raises(sd.DiffError):
        explain(sd.vector("v") * 2, x)
    e = explain(sd.sin(x), [x, y])
    assert [r.name for r in e.rows][-1] == "x"
    assert "y" not in e.gradients


def test_explain_through_a_condition():
    x = sd.scalar("x")
    cost = sd.where(x > 0, x ** 2, -x)
    e = explain(cost, x, at={"x": 1.5})
    np.testing.assert_allclose(e.row(x).grad_value, 3.0)
    cond = [r for r in e.rows if r.op == "greater"]
    assert cond and cond[0].adjoint is None and cond[0].gradient.startswith("0")


# -- the simplification report ----------------------------------------------------------------

def test_simplify_report_counts_rules_and_marks_rewritten_nodes():
    from symdiff.display import simplify_report
    x = sd.scalar("x")
    g = sd.grad(x ** 2 * sd.sin(x), x)
    report = simplify_report(g)
    assert report.nodes_before == len([n for n in toposort([g]) if n.inputs])
    assert report.nodes_after <= report.nodes_before
    assert report.result is report.after[0]
    np.testing.assert_allclose(sd.evaluate(report.result, {"x": 0.3}),
                               sd.evaluate(g, {"x": 0.3}))
    assert all(isinstance(k, str) and v > 0 for k, v in report.fired.items())
    text = str(report)
    assert "op nodes" in text and "before:" in text and "after:" in text
    assert "<table" in report._repr_html_()
    view = report.show(engine="python")
    new = {n.id for n in toposort([report.result])} - {n.id for n in toposort([g])}
    marked = {n for n, d in view.graph.nodes(data=True) if d["rewritten"]}
    assert marked == {n for n in new if view.graph.nodes[n]["expr"].inputs}
    classes = {el.get("id"): el.get("class").split() for el in _svg_nodes(view.svg)}
    for n in marked:
        assert "rewritten" in classes[f"n{n}"]
