"""`make run`'s supervision (helpdesk.supervisor, used by `manage.py runall`): a process that
crashes is started again while the others keep running; one that crashes at every start is
given up on; stop() ends them all."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from helpdesk.supervisor import EssentialProcessGaveUp, RestartPolicy, Supervisor

CRASHER = [sys.executable, "-c", "import sys; sys.exit(1)"]
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
FAST = RestartPolicy(backoff_start=0.05, backoff_max=0.2, healthy_after=10.0, max_fast_exits=3)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the supervisor did not get there in time")
        time.sleep(0.05)


@pytest.fixture
def reports() -> list[str]:
    return []


@pytest.fixture
def running() -> Iterator[Callable[[Supervisor], threading.Thread]]:
    """Run a supervisor's loop in a thread, as runall does in its main thread; always stopped."""
    started: list[tuple[Supervisor, threading.Thread]] = []

    def run(supervisor: Supervisor) -> threading.Thread:
        errors: list[BaseException] = []

        def loop() -> None:
            try:
                supervisor.run(interval=0.02)
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=loop)
        thread.errors = errors  # type: ignore[attr-defined]
        thread.start()
        started.append((supervisor, thread))
        return thread

    yield run
    for supervisor, thread in started:
        supervisor.stop()
        thread.join(timeout=15)


def test_a_crashed_process_is_restarted_while_the_others_keep_running(
    reports: list[str], running: Callable[[Supervisor], threading.Thread]
) -> None:
    policy = RestartPolicy(backoff_start=0.05, backoff_max=0.2, healthy_after=10.0, max_fast_exits=100)
    supervisor = Supervisor({"worker": CRASHER, "web": SLEEPER}, policy=policy, report=reports.append)
    running(supervisor)
    wait_for(lambda: supervisor.processes["web"].process is not None)
    web = supervisor.processes["web"].process
    assert web is not None

    wait_for(lambda: supervisor.processes["worker"].restarts >= 3)

    assert supervisor.processes["web"].process is web and web.poll() is None
    assert supervisor.processes["web"].restarts == 0
    assert "worker exited with code 1; restarting it in 0.05 s." in reports
    assert supervisor.processes["worker"].exit_codes[:3] == [1, 1, 1]


def test_the_backoff_grows_with_each_crash_right_after_the_start() -> None:
    policy = RestartPolicy(backoff_start=1.0, backoff_max=30.0, healthy_after=10.0, max_fast_exits=100)
    now = [0.0]
    reports: list[str] = []
    supervisor = Supervisor({"worker": CRASHER}, policy=policy, report=reports.append, clock=lambda: now[0])
    supervised = supervisor.processes["worker"]
    for _ in range(7):
        supervisor._exited(supervised, 1)
        now[0] += 1
    assert [line.split(" in ")[1] for line in reports] == ["1 s.", "2 s.", "4 s.", "8 s.", "16 s.", "30 s.", "30 s."]
    # A run that lasted starts the count again.
    supervised.started_at, now[0] = now[0], now[0] + 60
    supervisor._exited(supervised, 1)
    assert reports[-1] == "worker exited with code 1; restarting it in 1 s."


def test_a_process_that_crashes_at_every_start_is_given_up_on_and_the_others_keep_running(
    reports: list[str], running: Callable[[Supervisor], threading.Thread]
) -> None:
    supervisor = Supervisor({"beat": CRASHER, "web": SLEEPER}, policy=FAST, report=reports.append)
    thread = running(supervisor)

    wait_for(lambda: supervisor.processes["beat"].gave_up)
    time.sleep(0.3)

    beat = supervisor.processes["beat"]
    assert (beat.restarts, beat.process) == (FAST.max_fast_exits, None)
    assert reports[-1] == "beat exited with code 1 right after starting, 4 times in a row: giving up on it."
    web = supervisor.processes["web"].process
    assert web is not None and web.poll() is None
    assert thread.is_alive()


def test_when_the_web_server_keeps_crashing_everything_is_stopped(
    reports: list[str], running: Callable[[Supervisor], threading.Thread]
) -> None:
    supervisor = Supervisor({"web": CRASHER, "worker": SLEEPER}, policy=FAST, essential=["web"], report=reports.append)
    thread = running(supervisor)
    wait_for(lambda: supervisor.processes["worker"].process is not None)
    worker = supervisor.processes["worker"].process
    assert worker is not None

    thread.join(timeout=30)

    assert not thread.is_alive()
    assert [type(error) for error in thread.errors] == [EssentialProcessGaveUp]  # type: ignore[attr-defined]
    assert worker.poll() is not None


def test_stop_ends_every_process_and_nothing_is_restarted_after_it(
    reports: list[str], running: Callable[[Supervisor], threading.Thread]
) -> None:
    supervisor = Supervisor({"web": SLEEPER, "worker": SLEEPER, "beat": SLEEPER}, policy=FAST, report=reports.append)
    thread = running(supervisor)
    wait_for(lambda: all(s.process is not None for s in supervisor.processes.values()))
    processes = [s.process for s in supervisor.processes.values()]

    supervisor.stop()
    thread.join(timeout=15)

    assert not thread.is_alive()
    assert all(process is not None and process.poll() is not None for process in processes)
    assert all(s.restarts == 0 for s in supervisor.processes.values())
    assert reports == []
