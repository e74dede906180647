"""The disk cache of functions compiled with ``backend="numba"``.

An entry is a directory named by its key: the generated module (``sd_<key>.py``) and
its code object (``module.code``), its big constants (``constants.npz``), the machine
code Numba caches beside the module (``__pycache__/``) and, written last,
``manifest.json``: the SHA-256 of every other file. A load runs that machine code
without Numba's set-up for compiling (``njit`` below), which takes longer than the
rest of a load.

- Key: the graph as the user gave it (before simplification: a warm load skips the
  rewrites), the input types (part of the graph), the options, a digest of
  symdiff's own source (which decides what the graph simplifies and prints to), the
  Numba, NumPy and Python versions and the CPU. Numba checks its own versions and the
  CPU again when it loads the machine code.
- Writes are atomic: an entry is built in a private temporary directory and renamed
  into place; when several processes build the same entry at once, the first rename
  wins and the others drop theirs. No process ever waits on a lock.
- Reads are verified: a missing, truncated or altered file fails its checksum, and
  the entry is removed and built again, never loaded.
- The directory (``$SYMDIFF_CACHE_DIR``, default ``~/.cache/symdiff``) must be
  writable by its owner only: the cache holds code that runs, so a directory others
  can write is refused.
- Size: at most ``$SYMDIFF_CACHE_MAX_BYTES`` (default 256 MB); beyond it the entries
  used least recently (a load touches the manifest) are evicted.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import os
import platform
import shutil
import stat
import sys
import threading
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

from ..errors import CompileError
from ..ir import Node, Var, meta, toposort

DEFAULT_MAX_BYTES = 256 << 20
MANIFEST = "manifest.json"
CODE = "module.code"   # the generated module's code object (marshal)
_SOURCE_DIGEST: list[str] = []


class CacheDirError(CompileError):
    """The cache directory cannot be trusted (others can write to it) or used."""


def cache_root() -> Path:
    """The cache directory (created, owner-only, when missing)."""
    root = Path(os.environ.get("SYMDIFF_CACHE_DIR") or Path.home() / ".cache" / "symdiff")
    entries = root / "numba"
    try:
        entries.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise CacheDirError(f"cannot create the symdiff cache directory {entries}: {err}; "
                            f"set SYMDIFF_CACHE_DIR to a directory of your own") from None
    for path in (root, entries):
        info = path.stat()
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise CacheDirError(
                f"the symdiff cache directory {path} is writable by other users; it holds "
                f"compiled code that runs, so it must be writable by its owner only "
                f"(chmod go-w {path}, or set SYMDIFF_CACHE_DIR to another directory)")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise CacheDirError(f"the symdiff cache directory {path} belongs to another user; "
                                f"set SYMDIFF_CACHE_DIR to a directory of your own")
    return entries


def max_bytes() -> int:
    value = os.environ.get("SYMDIFF_CACHE_MAX_BYTES")
    return int(value) if value else DEFAULT_MAX_BYTES


def source_digest() -> str:
    """A digest of symdiff's own source files (computed once per process)."""
    if not _SOURCE_DIGEST:
        package = Path(__file__).resolve().parent.parent
        h = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            h.update(str(path.relative_to(package)).encode())
            h.update(path.read_bytes())
        _SOURCE_DIGEST.append(h.hexdigest())
    return _SOURCE_DIGEST[0]


def environment() -> str:
    """Versions and the CPU: what else changes the machine code."""
    cpu = platform.machine() + " " + platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags")):
                    cpu += " " + line.strip()
                if line.startswith("flags"):
                    break
    except OSError:
        pass
    return (f"numba {_numba_version()} numpy {np.__version__} "
            f"python {sys.version} cpu {cpu}")


def _numba_version() -> str:
    """Numba's version, without importing Numba (0.2-0.3 s) or reading the installed
    distributions' metadata (~0.05 s): the text of its ``_version.py``, which names the
    release and its revision."""
    spec = importlib.util.find_spec("numba")
    if spec is not None and spec.origin:
        try:
            text = (Path(spec.origin).parent / "_version.py").read_bytes()
            return "_version.py " + hashlib.sha256(text).hexdigest()
        except OSError:
            pass
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("numba")
    except PackageNotFoundError:
        return "none"


_META_KEYS = ("forward", "origin", "grad_of")   # what the comments and docstring name


def graph_text(inputs: list, outputs: list[Node], options: tuple) -> str:
    """The graph as text, one line per node (op, attributes, type, operands, value,
    the annotations the printed comments use): equal texts, equal functions."""
    order = toposort(outputs)
    extra = [m for n in order for key in _META_KEYS for m in _nodes(meta(n, key))]
    order = toposort(list(outputs) + list(inputs) + extra)
    number = {n.id: k for k, n in enumerate(order)}
    lines = [repr(options), " ".join(str(number[v.id]) for v in inputs),
             " ".join(str(number[o.id]) for o in outputs)]
    for n in order:
        value, attrs = "", n.attrs
        if n.op.name == "const":
            value = hashlib.sha256(np.ascontiguousarray(n.value).tobytes()).hexdigest()
            attrs = ()
        notes = [(key, [number.get(m.id) for m in _nodes(meta(n, key))]
                  if _nodes(meta(n, key)) else meta(n, key)) for key in _META_KEYS]
        lines.append(f"{n.op.name} {n.name if isinstance(n, Var) else ''} "
                     f"{attrs!r} {n.dtype.str} {n.shape} "
                     f"{[number[i.id] for i in n.inputs]} {value} {notes!r}")
    return "\n".join(lines)


def _nodes(value: Any) -> list[Node]:
    if isinstance(value, Node):
        return [value]
    if isinstance(value, (tuple, list)):
        return [v for v in value if isinstance(v, Node)]
    return []


def entry_key(graph_text: str) -> str:
    h = hashlib.sha256()
    for part in (graph_text, source_digest(), environment()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:40]


def load_or_build(key: str, build: Callable[[], tuple[str, dict]]) -> tuple[str, ModuleType]:
    """The module of entry ``key``: loaded when a verified entry is there, else built
    (``build() -> (source, big constants)``), compiled and stored."""
    module = load(key)
    if module is not None:
        return module.__symdiff_source__, module
    source, held = build()
    return source, store(key, source, held)


def load(key: str) -> ModuleType | None:
    """The module of entry ``key`` when a verified entry is there."""
    return _load(cache_root() / key, key)


def store(key: str, source: str, held: dict) -> ModuleType:
    """Compile the module ``source`` (with its big constants ``held``) and store it as
    entry ``key``; the module."""
    root = cache_root()
    return _store(root, root / key, key, source, held)


def njit(signature: str, **options: Any) -> Callable[[Callable], Any]:
    """Numba's ``njit(signature, **options)``, for the generated modules: the machine
    code Numba cached beside the module is loaded without Numba's set-up for compiling.

    Numba's own load first fills its typing and lowering registries (importing most of
    Numba, ~0.2-0.3 s), which only compiling needs: calling compiled code does not, and
    a later compilation fills them itself. When the cached code is missing or cannot
    be read this way, it is Numba's ``compile``, as ``njit(signature)`` does. As with an
    explicit signature, the function then compiles nothing more.
    """
    from numba import njit as numba_njit
    entry = vars(_LOADING).get("entry")

    def decorate(fn: Callable) -> Any:
        dispatcher = numba_njit(**options)(fn)   # no signature: nothing compiled yet
        if entry is not None:
            return _Lazy(dispatcher, signature, entry)
        if not _load_machine_code(dispatcher, signature):
            dispatcher.compile(signature)
        dispatcher.disable_compile()
        return dispatcher
    return decorate


_LOADING = threading.local()   # .entry: the entry this thread is loading from the cache
_LAZY_LOCK = threading.RLock()


class _Lazy:
    """A kernel of a module loaded from the cache, until its first call loads its
    machine code and puts the kernel in its place in the module. A compiled body has
    the code of the kernels it calls in its own, so the kernels only the steps run
    from Python call (big operands) are not loaded unless such a call comes."""

    def __init__(self, dispatcher: Any, signature: str, entry: Path) -> None:
        self.dispatcher, self.signature, self.entry = dispatcher, signature, entry
        self.name = dispatcher.py_func.__name__
        self.loading = False

    def __call__(self, *args: Any) -> Any:
        return self.load()(*args)

    def load(self) -> Any:
        with _LAZY_LOCK:   # reentrant: a kernel compiling here loads the others first
            namespace = self.dispatcher.py_func.__globals__
            if namespace.get(self.name) is self and not self.loading:
                self.loading = True
                if not _load_machine_code(self.dispatcher, self.signature):
                    # Numba did not take its machine code: compile here (the kernels
                    # this one calls first), and let the next process build the entry.
                    for other in list(namespace.values()):
                        if isinstance(other, _Lazy) and other is not self:
                            other.load()
                    self.dispatcher.compile(self.signature)
                    _remove(self.entry)
                self.dispatcher.disable_compile()
                namespace[self.name] = self.dispatcher
        return self.dispatcher


def _load_machine_code(dispatcher: Any, signature: str) -> bool:
    """Numba's cache load (``Dispatcher.compile`` on a cache hit) minus the registry
    set-up; False when the code is not there or Numba's internals differ."""
    try:
        from numba.core.compiler_lock import global_compiler_lock
        from numba.core.runtime import nrt
        context = dispatcher.targetctx
        with global_compiler_lock:
            nrt.rtsys.initialize(context)   # the runtime the compiled code allocates with
            result = dispatcher._cache._load_overload(signature, context)
            if result is None or result.objectmode:
                return False
            dispatcher._cache_hits[signature] += 1
            context.insert_user_function(result.entry_point, result.fndesc, [result.library])
            dispatcher.add_overload(result)
        return True
    except Exception:   # a Numba whose internals differ: its own load path
        return False


def _module_name(key: str) -> str:
    return f"sd_{key}"


def _files(entry: Path) -> dict[str, str]:
    return {str(p.relative_to(entry)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(entry.rglob("*")) if p.is_file() and p.name != MANIFEST}


def _load(entry: Path, key: str) -> ModuleType | None:
    manifest = entry / MANIFEST
    if not manifest.exists():
        return None
    try:
        recorded = json.loads(manifest.read_text())["files"]
        if _files(entry) != recorded:
            raise ValueError("checksum")
        _LOADING.entry = entry
        try:
            module = _import(entry, key)
        finally:
            _LOADING.entry = None
    except Exception:   # corrupt, truncated, or removed by another process meanwhile
        _remove(entry)
        return None
    if any(k.stats.cache_misses for k in _kernels(module)):
        # Numba did not take its machine code (it compiled again): a stale entry.
        _remove(entry)
        return module
    try:
        os.utime(manifest)   # used now: the last to be evicted
    except OSError:
        pass
    return module


def _kernels(module: ModuleType) -> list[Any]:
    return [v for k, v in vars(module).items() if k.startswith("_nb") and hasattr(v, "stats")]


def _import(directory: Path, key: str, compiling: bool = False) -> ModuleType:
    name = _module_name(key)
    path = directory / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    constants = directory / "constants.npz"
    if constants.exists():
        with np.load(constants, allow_pickle=False) as data:
            vars(module).update({k: data[k] for k in data.files})
    # Numba finds the module by name when it loads cached machine code.
    sys.modules[name] = module
    # Numba's first compilation imports SciPy's BLAS module (to offer np.convolve),
    # and a whole compiled body that calls np.dot needs it at its first call; importing
    # it the usual way imports scipy.linalg (0.13-0.3 s). It loads faster on its own
    # (numba_blas.py). (Hiding SciPy meanwhile would hide it from other threads too.)
    from .numba_blas import preload
    from .numba_whole import BLAS_MARK, WHOLE_MARK
    if compiling or WHOLE_MARK + BLAS_MARK in path.read_text():
        preload()
    try:
        exec(_code(directory, path), vars(module))   # only code we generated
    except BaseException:
        sys.modules.pop(name, None)
        raise
    module.__symdiff_source__ = path.read_text()
    return module


def _code(directory: Path, path: Path) -> Any:
    """The module's code object: the one compiled when the entry was stored (a big
    module takes tens of ms to compile, and Python may not be writing bytecode files)
    when it names this very file (Numba finds its cache beside it), else compiled."""
    stored = directory / CODE
    if stored.exists():
        code = marshal.loads(stored.read_bytes())
        if code.co_filename == str(path):
            return code
    return compile(path.read_text(), str(path), "exec")


def _store(root: Path, entry: Path, key: str, source: str, held: dict) -> ModuleType:
    tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(mode=0o700)
    try:
        name = f"{_module_name(key)}.py"
        (tmp / name).write_text(source)
        # compiled for its place once stored (the checksums of the manifest cover it)
        (tmp / CODE).write_bytes(marshal.dumps(compile(source, str(entry / name), "exec")))
        if held:
            np.savez(tmp / "constants.npz", **held)
        # compiles the kernels; Numba writes its cache here
        module = _import(tmp, key, compiling=True)
        manifest = json.dumps({"files": _files(tmp)})
        (tmp / (MANIFEST + ".tmp")).write_text(manifest)
        os.replace(tmp / (MANIFEST + ".tmp"), tmp / MANIFEST)
        try:
            os.rename(tmp, entry)
        except OSError:   # another process stored it first: keep theirs
            pass
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    evict(keep=entry)
    return module


def _remove(entry: Path) -> None:
    """Take an entry out of use at once (rename), then delete it."""
    trash = entry.with_name(f".trash-{entry.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(entry, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _entries(root: Path) -> list[tuple[float, int, Path]]:
    """(last use, bytes, path) of each complete entry."""
    found = []
    for entry in root.iterdir():
        manifest = entry / MANIFEST
        if entry.name.startswith(".") or not manifest.exists():
            continue
        try:
            used = manifest.stat().st_mtime
            size = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
        except OSError:
            continue
        found.append((used, size, entry))
    return sorted(found)


def evict(keep: Path | None = None) -> int:
    """Remove the least recently used entries until the cache fits its size bound."""
    root = cache_root()
    entries = _entries(root)
    total = sum(size for _, size, _ in entries)
    removed = 0
    for _, size, entry in entries:
        if total <= max_bytes():
            break
        if entry == keep:
            continue
        _remove(entry)
        total -= size
        removed += 1
    return removed


def cache_info() -> dict:
    """The cache directory, its number of entries, their bytes and the size bound."""
    root = cache_root()
    entries = _entries(root)
    return {"directory": str(root), "entries": len(entries),
            "bytes": sum(size for _, size, _ in entries), "max_bytes": max_bytes()}


def clear_cache() -> int:
    """Remove every entry; the number removed."""
    root = cache_root()
    entries = _entries(root)
    for _, _, entry in entries:
        _remove(entry)
    return len(entries)
