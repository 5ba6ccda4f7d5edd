"""Shared fixtures: the simulated server as a real process, and the CLI as a real command.

Everything here runs against glmbench's simulator on 127.0.0.1; no test needs
a GPU, a model or the network.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmbench.backends.process import ServerProcess, free_port

REPO = Path(__file__).resolve().parents[1]


class SimProcess:
    """A ``glmbench sim`` process with a truth log."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = free_port()
        self.truth = tmp / f"truth-{self.port}.jsonl"
        cmd = [sys.executable, "-m", "glmbench", "sim", "--port", str(self.port), "--truth-log", str(self.truth), *args]
        self.proc = ServerProcess(cmd, tmp / f"sim-{self.port}.log")
        self.proc.wait_ready(f"http://127.0.0.1:{self.port}/health", 30)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.proc.stop()


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator:
    """Call with sim CLI flags; every started simulator is stopped after the test."""
    started: list[SimProcess] = []

    def start(*args: str) -> SimProcess:
        sim = SimProcess(tmp_path, *args)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def run_cli(*args: str, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``glmbench ARGS`` as a user runs it, output captured."""
    return subprocess.run([sys.executable, "-m", "glmbench", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or REPO)


@pytest.fixture
def fast_sim_config(tmp_path: Path) -> Path:
    """A sim config quick enough for CLI tests: TTFT 20 ms, ITL 2 ms."""
    path = tmp_path / "sim-fast.yaml"
    path.write_text("sim:\n  ttft_ms: 20\n  itl_ms: 2\n  max_running: 64\n")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny random GLM-4.7-Flash (seed 0) for the whole session: building takes a few seconds."""
    pytest.importorskip("torch", reason="the tiny model needs torch: pip install 'glmbench[model]'")
    pytest.importorskip("transformers", reason="the tiny model needs transformers: pip install 'glmbench[model]'")
    from glmbench.tiny.model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def run_load(url: str, tmp: Path, workload, samples, spec=None, workers: int = 1, seed: int = 0):
    """One workload through glmbench's client (``workers`` processes) against ``url``: its run and its records."""
    from glmbench.load.client import StreamClient, Target
    from glmbench.load.runner import run_workload
    from glmbench.load.workload import RequestSpec
    from glmbench.results.records import RecordWriter, read_records
    from glmbench.util.loop import run_async

    path = tmp / "records.jsonl"

    async def main():
        async with StreamClient(Target(url, "glm-4.7-flash-sim"), spec or RequestSpec()) as client:
            with RecordWriter(path) as writer:
                return await run_workload(client, "w", workload, samples, seed, writer, workers=workers)

    run = run_async(main())
    return run, list(read_records(path))


def peak_in_flight(records) -> int:
    """The most requests in flight at once, from their send and end times."""
    events = sorted([(r.send_ns, 1) for r in records] + [(r.end_ns, -1) for r in records])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def live_processes() -> list[tuple[int, str]]:
    """(process group, command line) of every live process; zombies and processes gone mid-read are left out."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z":
            found.append((int(fields[2]), cmdline))
    return found


def url_port(url: str) -> int:
    """The port of an ``http://127.0.0.1:PORT/v1`` URL."""
    return int(url.rsplit(":", 1)[1].split("/")[0])


def at_a_terminal() -> None:
    """``preexec_fn`` for a process a test will Ctrl-C: SIGINT as at a terminal.

    A test run from a background job of a non-interactive shell inherits SIGINT
    ignored, and so would the glmbench it starts (which then rightly keeps
    ignoring it, as background jobs do).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
