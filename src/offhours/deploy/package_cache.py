"""Lambda zips built before, kept in the user's cache directory so `deploy plan` and `apply`
do not rebuild (seconds of pip) when nothing that decides the bytes changed.

An entry is keyed by the SHA-256 of :func:`offhours.deploy.package.build_inputs` (target,
locks, offhours' sources, calendars, bytecode interpreter, timestamp): ``<key>.zip`` beside
``<key>.json`` (its hash, size and what the build reported). A hit is used only when the zip
still has the recorded hash; a damaged entry is built again. The newest few entries are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from offhours.deploy.package import (
    Architecture,
    PackageResult,
    build_inputs,
    build_package,
    code_sha256,
)

__all__ = ["KEEP", "cache_dir", "cache_key", "cached_package"]

log = logging.getLogger(__name__)

#: how many builds the cache keeps (the newest)
KEEP = 4


def cache_dir() -> Path:
    """``lambda-packages`` in the user's cache directory (platformdirs: on Linux
    ``$XDG_CACHE_HOME/offhours``, by default ``~/.cache/offhours``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("offhours")) / "lambda-packages"


def _read(entry: Path) -> PackageResult | None:
    """The entry's recorded result, if its zip still has the recorded hash."""
    zipped = entry.with_suffix(".zip")
    try:
        record = json.loads(entry.read_text(encoding="utf-8"))
        blob = zipped.read_bytes()
        result = PackageResult(
            path=zipped,
            size=int(record["size"]),
            sha256=str(record["sha256"]),
            files=int(record["files"]),
            distributions=tuple(record.get("distributions", ())),
            bytecode=str(record.get("bytecode", "")),
            notes=tuple(record.get("notes", ())),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if code_sha256(blob) != result.sha256:
        log.warning("the cached build %s does not have its recorded hash: built again", zipped)
        return None
    return result


def _store(result: PackageResult, entry: Path) -> None:
    """Keep ``result``'s zip as ``entry`` (atomically: zip first, then its record)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    zipped = entry.with_suffix(".zip")
    partial = zipped.with_name(zipped.name + ".partial")
    shutil.copyfile(result.path, partial)
    partial.replace(zipped)
    record = {k: v for k, v in asdict(result).items() if k != "path"}
    partial = entry.with_name(entry.name + ".partial")
    partial.write_text(json.dumps(record, indent=1), encoding="utf-8")
    partial.replace(entry)
    _prune(entry.parent)


def _prune(directory: Path) -> None:
    records = sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in records[KEEP:]:
        for path in (old, old.with_suffix(".zip")):
            path.unlink(missing_ok=True)


def cache_key(inputs: Mapping[str, Any]) -> str:
    """The name a build is kept under: a digest of what decides its bytes."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


def cached_package(
    out: Path,
    *,
    runtime: str | None,
    architecture: Architecture,
    find_links: Sequence[Path] = (),
    no_index: bool = False,
    holiday_countries: Collection[str] | None = None,
    directory: Path | None = None,
    building: Callable[[], None] | None = None,
) -> tuple[PackageResult, bool]:
    """Write to ``out`` the zip :func:`build_package` would write: copied from the cache when
    an equal build is there (``True``), else built and kept there (``False``; ``building`` is
    called first, to say so)."""
    inputs = build_inputs(
        runtime=runtime, architecture=architecture, holiday_countries=holiday_countries
    )
    entry = (directory or cache_dir()) / f"{cache_key(inputs)}.json"
    found = _read(entry)
    if found is not None:
        log.info("reusing the build in the cache: %s (sha256 %s)", found.path, found.sha256_hex)
        os.utime(entry)  # the newest used is the last pruned
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found.path, out)
        return replace(found, path=out), True
    if building is not None:
        building()
    built = build_package(
        out,
        runtime=runtime,
        architecture=architecture,
        find_links=find_links,
        no_index=no_index,
        holiday_countries=holiday_countries,
    )
    try:
        _store(built, entry)
    except OSError as exc:  # a cache that cannot be written costs a rebuild next time only
        log.warning("could not keep the build in the cache %s: %s", entry.parent, exc.strerror)
    return built, False
