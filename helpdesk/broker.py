"""The embedded Celery broker (no Redis): kombu's filesystem transport, made safe for bursts.

kombu 5.7's filesystem channel creates a message file under its final name and then writes
into it, and its reader takes any file whose name matches ``*.<queue>.msg``: a worker polling
during a burst could claim a file still being written and die on a ``JSONDecodeError``.
Here a message is written under a name the reader never takes (``….msg.writing``) and
renamed into place once complete (``os.replace`` is atomic within a directory); the reader
claims a file by renaming it (only one consumer can win), and a file it cannot parse is put
back and skipped, not fatal: it may be one a producer of an older version is still writing.
A file that stays unreadable for ``UNREADABLE_GRACE_SECONDS`` is moved aside (``….msg.bad``)
and logged, so that it does not block the queue for ever.

Selected in settings with ``CELERY_BROKER_TRANSPORT = "helpdesk.broker:Transport"`` while the
broker URL stays ``filesystem://``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

WRITING_SUFFIX = ".writing"
CLAIMED_SUFFIX = ".claimed"
UNREADABLE_SUFFIX = ".bad"
# A message file no producer has finished within this time never will be.
UNREADABLE_GRACE_SECONDS = 60.0


_bind_lock = threading.Lock()


class Channel(filesystem.Channel):
    """kombu's filesystem channel with atomic writes and a reader that survives torn files."""

    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]  # kombu's two bases disagree on the name
        # kombu's name shape, "<time>_<uuid>.<queue>.msg", with a zero-padded wall-clock time so
        # that the reader's sort by name is first in, first out (also across processes and reboots).
        name = f"{time.time_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + WRITING_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(message)))
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        wanted = f"{queue}.msg"
        folder = self.data_folder_in
        for name in sorted(os.listdir(folder)):
            # Only this queue's finished files: "<time>_<uuid>.<queue>.msg".
            if name.partition(".")[2] != wanted:
                continue
            path = os.path.join(folder, name)
            claimed = f"{path}.{uuid.uuid4().hex}{CLAIMED_SUFFIX}"
            try:
                os.rename(path, claimed)
            except OSError:
                continue  # another consumer took it first
            try:
                with open(claimed, "rb") as file:
                    raw = file.read()
                payload = loads(bytes_to_str(raw))
            except (OSError, ValueError, json.JSONDecodeError) as error:
                self._put_back_unreadable(claimed, path, error)
                continue
            self._done(claimed, name, raw)
            return payload
        raise Empty()

    def _put_back_unreadable(self, claimed: str, path: str, error: Exception) -> None:
        """Skip a file that does not parse (yet): back under its name, or aside once it is old."""
        try:
            age = time.time() - os.stat(claimed).st_mtime
        except OSError:
            return
        try:
            if age > UNREADABLE_GRACE_SECONDS:
                os.replace(claimed, path + UNREADABLE_SUFFIX)
                logger.error("broker: moved aside an unreadable message file %s (%s)", path, error)
            else:
                os.replace(claimed, path)
                logger.info("broker: skipped a message file not yet complete: %s", path)
        except OSError:
            logger.warning("broker: could not put back the message file %s", path, exc_info=True)

    def _done(self, claimed: str, name: str, raw: bytes) -> None:
        try:
            if self.store_processed:
                os.makedirs(self.processed_folder, exist_ok=True)
                shutil.move(claimed, os.path.join(self.processed_folder, name))
            else:
                os.unlink(claimed)
        except OSError:
            logger.warning("broker: could not remove the consumed message file %s", claimed, exc_info=True)

    # The exchange tables (fanout bindings, e.g. the workers' remote-control queues) are
    # rewritten in place by kombu, so that a worker starting beside another could read a
    # truncated table. Here every change holds one lock for the control folder and replaces
    # the table whole.

    def queue_bind(
        self, queue: str, exchange: str | None = None, routing_key: str = "", arguments: Any = None, **kwargs: Any
    ) -> None:
        # kombu marks a binding declared in the process-wide state before it writes the
        # exchange table: another thread of this process, finding the binding declared, could
        # publish while the table on disk is still without it, and the message went to no
        # queue. Declaring is serialized in the process, so a binding seen declared is written.
        with _bind_lock:
            super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)

    @contextmanager
    def _control_lock(self) -> Iterator[None]:
        folder: Path = self.control_folder
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _write_table(self, exchange: str, queues: list[Any]) -> None:
        file: Path = self._exchange_file(exchange)
        partial = file.with_name(file.name + WRITING_SUFFIX)
        partial.write_bytes(str_to_bytes(dumps(queues)))
        os.replace(partial, file)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with self._control_lock():
                queues = self.get_table(exchange)
                if binding not in queues:
                    self._write_table(exchange, [binding, *queues])
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot bind {queue!r} to {exchange!r}") from exc

    def _delete(self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any) -> None:
        # The virtual channel's own bookkeeping, without kombu's in-place rewrite of the table.
        super(filesystem.Channel, self)._delete(queue, exchange, routing_key, pattern, *args, **kwargs)
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._control_lock():
            queues = self.get_table(exchange)
            if binding in queues:
                self._write_table(exchange, [q for q in queues if q != binding])


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = "filesystem"
    driver_name = "filesystem"
