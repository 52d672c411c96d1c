"""Keeping `make run`'s processes (web server, Celery worker(s), beat) alive together.

`runall` hands its `name -> argv` commands to a ``Supervisor``: a process that exits while
nobody asked it to is started again after a short backoff (1 s, 2 s, 4 s…, at most 30 s;
reset once a run lasted ``healthy_after`` seconds), and each restart is reported. A process
that keeps dying right after its start (``max_fast_exits`` times in a row) is given up on
loudly; the others keep running, unless it is one the product cannot work without (the
web server), in which case everything stops. ``stop()`` (Ctrl-C, SIGTERM) ends them all.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestartPolicy:
    backoff_start: float = 1.0
    backoff_max: float = 30.0
    # A run shorter than this counts as a crash right after the start.
    healthy_after: float = 10.0
    max_fast_exits: int = 5


class EssentialProcessGaveUp(Exception):
    """A process the others are useless without keeps crashing: everything was stopped."""


@dataclass
class SupervisedProcess:
    name: str
    argv: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    fast_exits: int = 0
    restart_at: float | None = None
    gave_up: bool = False
    exit_codes: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        commands: Mapping[str, Sequence[str]],
        *,
        policy: RestartPolicy | None = None,
        essential: Sequence[str] = (),
        report: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self.essential = frozenset(essential)
        self.report = report or logger.warning
        self.clock = clock
        self.processes = {name: SupervisedProcess(name, list(argv)) for name, argv in commands.items()}
        self.stopping = False

    # --- one process ------------------------------------------------------------------------

    def _start(self, supervised: SupervisedProcess) -> None:
        if self.stopping:
            return
        supervised.process = subprocess.Popen(supervised.argv)  # noqa: S603 (argv from runall's table)
        supervised.started_at = self.clock()
        supervised.restart_at = None

    def _backoff(self, supervised: SupervisedProcess) -> float:
        exponent = max(supervised.fast_exits - 1, 0)
        return float(min(self.policy.backoff_start * 2**exponent, self.policy.backoff_max))

    def _exited(self, supervised: SupervisedProcess, code: int) -> None:
        now = self.clock()
        supervised.process = None
        supervised.exit_codes.append(code)
        if now - supervised.started_at < self.policy.healthy_after:
            supervised.fast_exits += 1
        else:
            supervised.fast_exits = 1
        if supervised.fast_exits > self.policy.max_fast_exits:
            supervised.gave_up = True
            self.report(
                f"{supervised.name} exited with code {code} right after starting, "
                f"{supervised.fast_exits} times in a row: giving up on it."
            )
            if supervised.name in self.essential:
                self.stop()
                raise EssentialProcessGaveUp(supervised.name)
            return
        delay = self._backoff(supervised)
        supervised.restart_at = now + delay
        self.report(f"{supervised.name} exited with code {code}; restarting it in {delay:g} s.")

    # --- all of them ------------------------------------------------------------------------

    def start(self) -> None:
        for supervised in self.processes.values():
            self._start(supervised)

    def poll(self) -> None:
        """One round: notice exits, start again those whose backoff is over."""
        if self.stopping:
            return
        for supervised in self.processes.values():
            if supervised.gave_up:
                continue
            if supervised.process is not None:
                code = supervised.process.poll()
                if code is not None:
                    self._exited(supervised, code)
            elif supervised.restart_at is not None and self.clock() >= supervised.restart_at:
                supervised.restarts += 1
                self._start(supervised)

    @property
    def running(self) -> bool:
        return not self.stopping and any(not supervised.gave_up for supervised in self.processes.values())

    def run(self, *, interval: float = 0.5) -> None:
        """Start everything and supervise until ``stop()``, or until nothing is left to run."""
        self.start()
        while self.running:
            self.poll()
            time.sleep(interval)

    def stop(self, *, timeout: float = 10.0) -> None:
        """Terminate every process, killing those still there after `timeout` seconds."""
        self.stopping = True
        alive = [s.process for s in self.processes.values() if s.process is not None and s.process.poll() is None]
        for process in alive:
            process.terminate()
        deadline = time.monotonic() + timeout
        for process in alive:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
