"""The SQLite store (to be written): see :mod:`offhours.state.base` for the interface."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

__all__ = ["SqliteStore"]


class SqliteStore:
    def __init__(self, path: Path, *, keep: timedelta = timedelta(days=90)) -> None:
        self.path = path
        self.keep = keep
        self.name = f"sqlite {path}"
        raise NotImplementedError
