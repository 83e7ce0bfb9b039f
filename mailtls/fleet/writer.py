"""Results written while scanning goes on: a writer that stores finished targets in batches.

Each result is handed to the writer as its target finishes; one flush at a time runs in a
thread (the database driver blocks) and takes everything that finished meanwhile in one
transaction (``Database.store_many``). Under load a batch grows, so the database's round trips
stop bounding the number of targets per second; when targets finish slowly, each is written at
once. Used by the embedded path and by each worker's chunk alike.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Any

from mailtls.fleet.db import DONE, Database

__all__ = ["ResultWriter"]


class ResultWriter:
    def __init__(self, db: Database, run_id: str, executor: Executor | None = None) -> None:
        self.db = db
        self.run_id = run_id
        self.executor = executor
        self.stored = 0
        self._buffer: list[tuple[str, dict[str, Any], str, str | None]] = []
        self._flushing: asyncio.Task[None] | None = None

    def add(self, name: str, document: dict[str, Any], *, state: str = DONE,
            reason: str | None = None) -> None:
        self._buffer.append((name, document, state, reason))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._buffer:
            batch, self._buffer = self._buffer, []
            stored = await loop.run_in_executor(self.executor, self.db.store_many,
                                                self.run_id, batch)
            self.stored += len(stored)

    async def drain(self) -> None:
        """Wait until everything added is written (raises what a flush raised)."""
        while self._flushing is not None:
            task = self._flushing
            await task
            if task is self._flushing and not self._buffer:
                self._flushing = None
