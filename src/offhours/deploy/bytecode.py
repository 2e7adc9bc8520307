"""Bytecode for the Lambda zip, compiled by an interpreter of the function's own Python version.

Lambda's file system is read-only: without bytecode in the zip, every cold start compiles every
module it imports (about 0.3 s for the handler, see docs/benchmarks.md). Bytecode is tied to the
interpreter's minor version (a ``.cpython-312.pyc`` is ignored by 3.13), so it is compiled by an
interpreter of the runtime's version — this one when it matches, else ``python3.X`` on PATH — and
never by another: with none at hand the zip ships without bytecode and says so.

Reproducible: ``--invalidation-mode unchecked-hash`` (no source mtime in the header, and no
check at import: the zip's sources never change under it), one process compiling in sorted
order, a fixed hash seed (set and frozenset constants keep their order) and a fixed ``-d``
(the file name recorded in each code object; Python corrects it to the real path on import).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from offhours.errors import OffhoursError

__all__ = ["COMPILED_AS", "Compiler", "compile_tree", "find_compiler"]

#: the directory Lambda unpacks the zip into, as recorded in the bytecode
COMPILED_AS = "/var/task"
_TIMEOUT_S = 600
_CACHE_TAG = "import sys; print(sys.implementation.cache_tag)"


@dataclass(frozen=True)
class Compiler:
    """An interpreter that writes bytecode for ``python`` (``"3.12"``)."""

    executable: str
    python: str

    @property
    def cache_tag(self) -> str:
        return "cpython-" + self.python.replace(".", "")


def find_compiler(python: str, *, path: str | None = None) -> Compiler | None:
    """A CPython ``python`` ("3.12"): this interpreter if it is one, else ``python3.12`` on
    ``path`` (default: PATH) if it runs and says so; None when there is none."""
    wanted = Compiler(sys.executable, python)
    if sys.implementation.cache_tag == wanted.cache_tag:
        return wanted
    candidate = shutil.which(f"python{python}", path=path)
    if candidate is None:
        return None
    try:
        proc = subprocess.run(  # noqa: S603 - an interpreter found on PATH, a fixed probe
            [candidate, "-I", "-c", _CACHE_TAG],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    # pyenv's shims exist for every installed version but fail unless one is selected.
    if proc.returncode != 0 or proc.stdout.strip() != wanted.cache_tag:
        return None
    return Compiler(candidate, python)


def compile_tree(compiler: Compiler, tree: Path) -> Mapping[str, bytes]:
    """Compile every ``.py`` under ``tree``; return each ``.pyc`` by its path in the tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    command = [
        *(compiler.executable, "-I", "-m", "compileall", "-q", "-j", "1"),
        *("--invalidation-mode", "unchecked-hash", "-d", COMPILED_AS, str(tree)),
    ]
    try:
        proc = subprocess.run(  # noqa: S603 - the runtime's interpreter, arguments we built
            command, capture_output=True, text=True, env=env, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OffhoursError(
            f"could not compile the zip's bytecode with {compiler.executable}: {exc}"
        ) from exc
    if proc.returncode != 0:
        said = (proc.stdout + proc.stderr).strip().splitlines()[-8:]
        raise OffhoursError(
            f"{compiler.executable} could not compile the zip's modules for Python "
            f"{compiler.python}:\n  " + "\n  ".join(said)
        )
    suffix = f".{compiler.cache_tag}.pyc"
    return {
        path.relative_to(tree).as_posix(): path.read_bytes()
        for path in sorted(tree.rglob(f"__pycache__/*{suffix}"))
    }
