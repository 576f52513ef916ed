"""Build a C source into a shared library on first use and load it with ctypes.

One place for what the project's native kernels share (:mod:`theory.native`, the optimizer step;
:mod:`simulations.levy_native`, the sampler): the compiler (``CC``, else gcc or cc on PATH), a
per-user cache folder (``AMLAB_CACHE`` or ``$XDG_CACHE_HOME/amlab``, else ``~/.cache/amlab``), a file
name that hashes the source, the flags, the compiler and the CPU's features (``-march=native``
code must not be loaded on another CPU sharing the folder), an atomic rename (two processes may
build at once), and a reason, kept for the caller, when anything fails. A kernel that cannot be
built is None and its caller keeps its torch path.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable, Sequence


# Every kernel's flags: optimised for this CPU, each operation one correctly rounded IEEE operation
# (no fma contraction, no fast-math), so a kernel can be checked bit for bit against its reference.
STRICT_FLAGS = ("-O3", "-march=native", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math",
                "-fno-math-errno")


def torch_cpu_link() -> list[str]:
    """Link flags for a kernel that calls functions of torch's own CPU library (libtorch_cpu: the
    MKL and SLEEF functions torch's elementwise ops use, so the kernel computes what torch does).
    The torch version is part of the flags, hence of the library's hash; ``-z defs`` makes a symbol
    this torch does not export fail the build (then the caller keeps its torch path)."""
    import torch

    torch_lib = Path(torch.__file__).parent / "lib"
    return [f"-L{torch_lib}", "-l:libtorch_cpu.so", f"-Wl,-rpath,{torch_lib}", "-Wl,-z,defs", "-lm",
            f"-DAMLAB_TORCH={torch.__version__!r}"]


def cache_dir() -> Path:
    if os.environ.get("AMLAB_CACHE"):
        return Path(os.environ["AMLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "amlab"


def cpu_features() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    return next((line for line in lines if line.startswith(("flags", "Features"))), "")


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")


class SharedLibrary:
    """``stem``'s library, built from ``source`` with ``flags`` (before the source) and ``libs``
    (after it), then handed to ``declare`` (which sets argtypes). :meth:`get` builds once per
    process; :meth:`why_not` says why it returned None."""

    def __init__(self, stem: str, source: str, flags: Sequence[str], libs: Sequence[str] = ("-lm",),
                 declare: Callable[[ctypes.CDLL], None] | None = None):
        self.stem, self.source, self.flags, self.libs, self.declare = stem, source, list(flags), list(libs), declare
        self._lock = threading.Lock()
        self._state: dict = {}

    def _build(self) -> ctypes.CDLL | None:
        cc = compiler()
        if cc is None:
            self._state["why"] = "no C compiler (gcc or cc) on PATH"
            return None
        tag = hashlib.sha256("\0".join([self.source, cc, *self.flags, *self.libs, cpu_features()]).encode())
        target = cache_dir() / f"{self.stem}_{tag.hexdigest()[:16]}.so"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                src, out = Path(tmp) / f"{self.stem}.c", Path(tmp) / f"{self.stem}.so"
                src.write_text(self.source)
                done = subprocess.run([cc, *self.flags, str(src), "-o", str(out), *self.libs],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    self._state["why"] = f"{cc} failed: {done.stderr.strip()[-300:]}"
                    return None
                os.replace(out, target)  # atomic: a concurrent build writes the same file
        lib = ctypes.CDLL(str(target))
        if self.declare is not None:
            self.declare(lib)
        return lib

    def get(self) -> ctypes.CDLL | None:
        with self._lock:
            if "lib" not in self._state:
                try:
                    self._state["lib"] = self._build()
                except OSError as exc:  # unwritable cache folder, a library that does not load
                    self._state["why"], self._state["lib"] = f"{type(exc).__name__}: {exc}", None
            return self._state["lib"]

    def why_not(self) -> str | None:
        """Why :meth:`get` returned None (None when it did not, or was not yet asked)."""
        return self._state.get("why")

    def forget(self) -> None:
        """Drop the loaded library and the reason, so the next :meth:`get` builds again (tests)."""
        with self._lock:
            self._state.clear()
