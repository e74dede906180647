"""The notebooks run top to bottom in a fresh kernel and show what they promise.

Each notebook is executed with ``nbclient`` in a kernel running this interpreter
(a kernelspec named ``python3`` pointing at ``sys.executable`` is put first on
``JUPYTER_PATH``), with the working tree first on ``PYTHONPATH`` and matplotlib's
Agg backend. Any error fails the test; the outputs must include the graph (SVG),
the grad table (HTML), LaTeX and the plots (PNG) that the notebook is about. The
notebooks are stored without outputs.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

# What each notebook must show: MIME types, and marks inside its HTML outputs.
EXPECTED = {
    "01-quickstart": {"mime": {"text/latex", "image/svg+xml", "text/html"},
                      "html": ["symdiff-explain-table"]},
    "02-backprop-by-hand-and-by-graph": {"mime": {"text/latex", "image/svg+xml", "text/html"},
                                         "html": ["symdiff-explain-table", "highlight"]},
    "03-simplification-and-codegen": {"mime": {"text/latex", "image/svg+xml", "text/html",
                                               "image/png"},
                                      "html": ["symdiff-simplify", "highlight"]},
    "04-higher-order": {"mime": {"text/latex", "image/png"}, "html": []},
    "05-training-an-mlp": {"mime": {"image/png", "text/html"}, "html": ["highlight"],
                           "png": 2},
    "06-matrix-calculus": {"mime": {"text/latex"}, "html": []},
    "07-beyond-one-machine": {"mime": {"image/png"}, "html": []},
    "08-jax-style": {"mime": {"image/png"}, "html": [], "png": 1},
}


def test_every_notebook_is_listed():
    assert sorted(EXPECTED) == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A ``python3`` kernelspec for this interpreter, found before any other."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / "python3"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (symdiff tests)", "language": "python"}))
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "PYTHONPATH", "MPLBACKEND",
                                            "SYMDIFF_NOTEBOOK_ROWS")}
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(jupyter)] + ([saved["JUPYTER_PATH"]] if saved["JUPYTER_PATH"] else []))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []))
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["SYMDIFF_NOTEBOOK_ROWS"] = "400000"   # 07's data set, small in the tests
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _printed_math(outputs: list[dict]) -> list[str]:
    """The text of printed results: streams, plain text and LaTeX."""
    texts = [o.get("text", "") for o in outputs if o.output_type == "stream"]
    for o in outputs:
        data = o.get("data", {})
        texts += [data[m] for m in ("text/plain", "text/latex") if m in data]
    return texts


def _outputs(nb) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_outputs(path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()   # raises CellExecutionError on the first failing cell
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    mimes = {m for o in outputs if "data" in o for m in o.data}
    expected = EXPECTED[path.stem]
    assert expected["mime"] <= mimes, expected["mime"] - mimes
    html = "\n".join(o.data["text/html"] for o in outputs
                     if "data" in o and "text/html" in o.data)
    for mark in expected["html"]:
        assert mark in html, mark
    pngs = sum("image/png" in o.data for o in outputs if "data" in o)
    assert pngs >= expected.get("png", 0)
    # printed math reads back: no NumPy repr inside an expression's text or LaTeX, no
    # JAX .at[...], no Heaviside (a boolean times a number SymPy cannot read)
    for text in _printed_math(outputs):
        assert not re.search(r"\.at\[|Heaviside\(", text), text
    for o in outputs:
        if "data" in o and "text/latex" in o.data:
            assert "array(" not in o.data["text/latex"], o.data["text/latex"]
        if "data" in o and "text/plain" in o.data and o.data["text/plain"].startswith("<Expr"):
            assert "array(" not in o.data["text/plain"], o.data["text/plain"]
    for o in outputs:
        if "data" in o and "image/svg+xml" in o.data:
            assert "derivative" in o.data["image/svg+xml"] or "node" in o.data["image/svg+xml"]
