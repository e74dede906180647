"""Golden files: the generated source of the README's Quickstart and of the bench
workloads, kept in ``tests/golden/`` so that every change to generated code shows in
a diff for review.

After an intended change to code generation, regenerate them and review the diff:

    python tests/test_golden.py --update
    SYMDIFF_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py    (the same)

The sources are generated in a fresh Python process: simplification orders the
operands of commutative ops by node, so the text depends on the graphs built before
in the same process (other tests). Generated source holds nothing else that changes
from run to run (no ids, addresses or counters: the counter that names the source
for ``linecache`` is not in it), so the files are compared as they are.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("SYMDIFF_UPDATE_GOLDEN") == "1"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))   # this checkout's symdiff and bench, also as a script


def _readme_block(heading: str, index: int = 0) -> str:
    """The ``index``-th ```python block after ``heading`` in the README."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(heading):]
    return re.findall(r"```python\n(.*?)```", section, re.S)[index]


def _quickstart(readable: bool = False):
    """The function the README's Quickstart compiles, by running its code."""
    import symdiff as sd
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(_readme_block("## Quickstart"), namespace)
    f = namespace["f"]
    if readable:
        f = sd.function(f.inputs, f.outputs, readable=True)
    return f


def _bench(name: str):
    """The function that ``python -m bench`` compiles for a workload."""
    from bench.contenders import Symdiff
    from bench.workloads import BY_NAME
    workload = BY_NAME[name]
    _, _, info = Symdiff().build(workload, workload.make_inputs())
    return info["function"]


def _bench_names() -> list[str]:
    from bench.workloads import WORKLOADS
    return [w.name for w in WORKLOADS]


CASES = {"readme_quickstart": _quickstart,
         "readme_quickstart_readable": lambda: _quickstart(readable=True),
         **{f"bench_{name}": (lambda name=name: _bench(name)) for name in _bench_names()}}


def generate() -> dict[str, str]:
    """name -> generated source, from a fresh process (see the module docstring)."""
    done = subprocess.run([sys.executable, __file__, "--json"], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    made = generate()
    if UPDATE:
        _write(made)
    return made


def _write(made: dict[str, str]) -> None:
    for path in GOLDEN.glob("*.py"):
        path.unlink()
    for name, source in made.items():
        (GOLDEN / f"{name}.py").write_text(source)


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_matches_its_golden_file(name, sources):
    path = GOLDEN / f"{name}.py"
    assert path.exists(), f"no golden file {path.name}: run python tests/test_golden.py --update"
    assert sources[name] == path.read_text(), (
        f"the generated source of {name} changed: if that is intended, regenerate with "
        f"python tests/test_golden.py --update and review the diff of tests/golden/")


def test_every_golden_file_is_generated():
    assert sorted(p.stem for p in GOLDEN.glob("*.py")) == sorted(CASES)


def test_readme_snippet_is_real_output():
    """The README shows lines of the Quickstart's generated source, in their order
    (``...`` stands for lines left out), and a line of its readable form."""
    source = (GOLDEN / "readme_quickstart.py").read_text().splitlines()
    shown = [line for line in _readme_block("## Quickstart", 1).splitlines()
             if line.strip() != "..."]
    position = 0
    for line in shown:
        assert line in source[position:], f"README line not in the generated source: {line!r}"
        position = source.index(line, position) + 1
    readable = (GOLDEN / "readme_quickstart_readable.py").read_text()
    quoted = re.search(r"readable=True\)` [^`]*`([^`]+)`", (ROOT / "README.md").read_text())
    assert quoted and quoted.group(1) in readable


if __name__ == "__main__":
    if "--json" in sys.argv:
        print(json.dumps({name: build().source for name, build in CASES.items()}))
    elif "--update" in sys.argv:
        _write(generate())
        print(f"wrote {len(CASES)} files in {GOLDEN.relative_to(ROOT)}/; review the diff")
    else:
        sys.exit("usage: python tests/test_golden.py --update")
