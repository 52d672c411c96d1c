"""bench/run.py: which modules it runs as benchmarks, and how it reads their verdicts."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import run

BENCH_DIR = Path(run.__file__).resolve().parent


def test_every_module_of_bench_is_either_a_benchmark_or_listed_as_not_one() -> None:
    stems = {path.stem for path in BENCH_DIR.glob("*.py")}

    assert set(run.BENCHMARKS).isdisjoint(run.NOT_BENCHMARKS)
    assert stems == set(run.BENCHMARKS) | set(run.NOT_BENCHMARKS)


@pytest.mark.parametrize("name", run.BENCHMARKS)
def test_every_benchmark_prints_its_summary_line_and_exits_with_its_verdict(name: str) -> None:
    source = (BENCH_DIR / f"{name}.py").read_text()

    assert f'f"{name}: ' in source or f'"{name}: ' in source
    assert source.rstrip().endswith('if __name__ == "__main__":\n    sys.exit(main())')


def test_a_benchmark_that_printed_no_summary_line_is_reported_as_failed() -> None:
    assert run.summary_of("inbox", 0, "figures\nmore figures\n") == ("inbox: FAILED (exit 0, no summary line)", False)


def test_the_last_summary_line_is_kept_and_a_non_zero_exit_is_a_missed_target() -> None:
    stdout = "inbox: warming up\nfigures\ninbox: FAIL conversations=10\n"

    assert run.summary_of("inbox", 1, stdout) == ("inbox: FAIL conversations=10", False)
    assert run.summary_of("inbox", 0, "inbox: PASS conversations=10\n") == ("inbox: PASS conversations=10", True)


def _fake_runs(monkeypatch: pytest.MonkeyPatch, exit_codes: dict[str, int]) -> list[str]:
    ran: list[str] = []

    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if argv[1] == "manage.py":
            return subprocess.CompletedProcess(argv, 0, "", "")
        name = Path(argv[1]).stem
        ran.append(name)
        return subprocess.CompletedProcess(argv, exit_codes.get(name, 0), f"figures\n{name}: summary\n", "")

    monkeypatch.setattr(run, "recreate_database", lambda url: None)
    monkeypatch.setattr(run.subprocess, "run", fake_run)
    return ran


def test_make_bench_runs_only_the_benchmarks_and_succeeds_when_every_target_is_met(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = _fake_runs(monkeypatch, {})

    assert run.main([]) == 0
    assert ran == list(run.BENCHMARKS)
    assert "webhook_profile" not in capsys.readouterr().out


def test_make_bench_fails_when_one_benchmark_misses_its_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_runs(monkeypatch, {"tokens": 1})

    assert run.main([]) == 1
    assert capsys.readouterr().out.endswith("\n".join(f"{name}: summary" for name in run.BENCHMARKS) + "\n")


def test_an_unknown_benchmark_name_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = _fake_runs(monkeypatch, {})

    assert run.main(["webhook_profile"]) == 2
    assert ran == []
    assert "unknown benchmark(s): webhook_profile" in capsys.readouterr().err
