"""The fault matrix: glmbench as a user runs it, against a server that misbehaves on purpose.

The server is ``tests/faultserver.py``: standard library only, no code shared
with glmbench's simulator or client. Every case runs the real CLI in its own
process and checks what the README promises: the exit code (0 ok, 1 server
died / all failed / disk full, 2 a mistake to fix, 130 interrupted), one
``error:`` line and one ``next:`` line and never a traceback, records and
summary that agree (completed + failed = stored records), a manifest whose
status says what happened, and no process left behind.

Lifecycle cases start the fault server through glmbench's own launcher: the
``sim`` backend with ``launch.python`` pointing at a wrapper that runs the
fault server in place of ``python -m glmbench sim`` (every other call goes to
the real interpreter, so the installation check is real).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glmbench.backends.process import free_port
from tests.conftest import REPO, at_a_terminal, live_processes

pytestmark = pytest.mark.e2e

FAULT_SERVER = REPO / "tests" / "faultserver.py"
# A small random workload: no dataset to read, a few tokens per request.
LOAD = ["--dataset", "random", "--input-len", "16", "--output-len", "8"]


# ---------------------------------------------------------------- helpers

class FaultServer:
    """``tests/faultserver.py`` on a free port, in its own process group."""

    def __init__(self, tmp: Path, mode: str = "ok", **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        environ = {**os.environ, "FAULT_MODE": mode, **{f"FAULT_{k.upper()}": str(v) for k, v in env.items()}}
        self.log = (tmp / f"fault-{self.port}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, str(FAULT_SERVER), "--port", str(self.port)], env=environ,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the fault server did not start")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=5)
        self.log.close()


def kill_leftovers(marker: str) -> list[str]:
    """SIGKILL every live process but this one whose command line carries ``marker``; their command lines.

    The finalizer of a test that failed half-way: a glmbench it started (which
    carries the fault server's address or the fake interpreter's path on its
    command line), the server glmbench launched and that server's children.
    """
    me, killed = os.getpid(), []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            pid, cmd = int(path.parent.name), path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if pid != me and marker in cmd:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(cmd)
            except (ProcessLookupError, PermissionError):
                pass
    return killed


@pytest.fixture
def fault(tmp_path: Path):
    started: list[FaultServer] = []

    def start(mode: str = "ok", **env: str) -> FaultServer:
        server = FaultServer(tmp_path, mode, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        kill_leftovers(f"127.0.0.1:{server.port}")  # a glmbench still using it (--endpoint URL)
        server.stop()


def glmbench(*args: str, timeout: float = 90, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "glmbench", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or REPO)
    return proc


def assert_outcome(proc: subprocess.CompletedProcess, code: int, error: str | None = None) -> None:
    """Exit code, no traceback, and for a failure exactly one error line and one next line."""
    shown = f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    assert proc.returncode == code, shown
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, shown
    assert "exception was never retrieved" not in proc.stderr, shown
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    nexts = [line for line in proc.stderr.splitlines() if line.startswith("next: ")]
    if code in (1, 2) and error is not None:
        assert len(errors) == 1 and len(nexts) == 1, shown
        assert error in errors[0], shown
        assert "Usage:" not in proc.stderr, shown  # no usage box: the two lines say it
    if code == 0:
        assert not errors, shown


def run_folders(results: Path) -> list[Path]:
    return sorted(p for p in results.iterdir() if p.is_dir()) if results.is_dir() else []


def stored_records(folder: Path) -> list[dict]:
    """The records a reader can use: torn lines (a write cut by a full disk) are not records."""
    out = []
    for line in (folder / "records.jsonl").read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def assert_consistent(folder: Path, status: str, sent: int | None = None) -> dict:
    """Manifest status; summary counts equal the stored records, per workload; nothing in flight forgotten."""
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == status, manifest["status"]
    summary = json.loads((folder / "summary.json").read_text())
    records = stored_records(folder)
    for row in summary["rows"]:
        mine = [r for r in records if r["workload"] == row["workload"]]
        assert row["completed"] + row["failed"] == len(mine), (row["completed"], row["failed"], len(mine))
        assert row["completed"] == sum(1 for r in mine if r["ok"])
        assert all(r["error"] for r in mine if not r["ok"])
    if sent is not None:
        assert len(records) == sent
    assert not (folder / ".reserve").exists()
    return summary


def assert_nothing_left(marker: str) -> None:
    """No live process whose command line carries ``marker`` (a port, a log path)."""
    deadline = time.monotonic() + 5
    while True:
        left = [cmd for _, cmd in live_processes() if marker in cmd]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, left


def test_kill_leftovers_stops_a_marked_process_and_the_server_it_started(tmp_path: Path) -> None:
    """The fixtures' finalizer: a process and its child in a session of its own, both marked, both gone."""
    marker = str(tmp_path / "leftover-mark")
    code = ("import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', sys.argv[1]], "
            "start_new_session=True)\n"
            "time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, marker])
    deadline = time.monotonic() + 10
    while len([c for _, c in live_processes() if marker in c]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(kill_leftovers(marker)) == 2
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert_nothing_left(marker)


# ---------------------------------------------------------------- per-request faults (bench --endpoint)

# (mode, extra server env, extra options, exit code, reason every failed request must give; None: all succeed)
REQUEST_FAULTS = [
    ("ok", {}, [], 0, None),
    ("http500", {}, [], 1, "HTTP 500: "),
    ("http429", {}, [], 1, "HTTP 429: "),
    ("http400", {}, [], 1, "HTTP 400: "),
    ("cut", {}, [], 1, "stream cut mid-way"),
    ("badjson", {}, [], 1, "non-JSON chunk"),
    ("error-event", {}, [], 1, "server error in stream: injected error event"),
    ("html", {}, [], 1, "HTTP 200 but text/html, not an event stream: <html>"),
    ("empty", {}, [], 1, "HTTP 200 with an empty body"),
    ("stall", {}, ["--timeout", "1.5"], 1, "timeout after 1.5 s (--timeout)"),
    ("stall", {}, ["--stall-timeout", "0.5"], 1, "stalled: no data for 0.5 s (--stall-timeout)"),
    ("stall-head", {}, ["--stall-timeout", "0.5"], 1, "stalled: no data for 0.5 s"),
    # Legal but unusual: each must be read exactly as a plain stream.
    ("noheaders", {}, [], 0, None),
    ("crlf", {}, [], 0, None),
    ("comments", {}, [], 0, None),
    ("split", {}, [], 0, None),
    ("packed", {}, [], 0, None),
    ("huge", {}, [], 0, None),
    # Some requests fail, others do not: the run counts both and exits 0 with the reasons noted.
    ("http500", {"ok_first": "3"}, [], 0, "HTTP 500: "),
]


@pytest.mark.parametrize("mode,env,options,code,reason", REQUEST_FAULTS,
                         ids=[f"{m}{'-' + '-'.join(env) if env else ''}{'-' + o[0][2:] if o else ''}"
                              for m, env, o, _, _ in REQUEST_FAULTS])
def test_request_fault(fault, tmp_path: Path, mode, env, options, code, reason) -> None:
    server = fault(mode, **env)
    results = tmp_path / "results"
    proc = glmbench("bench", "--endpoint", server.url, "--workload", "burst", "--num-prompts", "6", *LOAD,
                    *options, "--results-dir", str(results))
    assert_outcome(proc, code, "every request of burst failed" if code == 1 else None)
    [folder] = run_folders(results)
    summary = assert_consistent(folder, "all-failed" if code == 1 else "complete", sent=6)
    records = stored_records(folder)
    failed = [r for r in records if not r["ok"]]
    if reason is None:
        assert not failed, failed[:2]
        assert all(r["output_tokens"] == 8 and len(r["chunk_ns"]) == 8 for r in records)
    else:
        assert failed and all(reason in r["error"] for r in failed), [r["error"] for r in failed]
        assert reason.split(":")[0] in proc.stdout  # the notes under the table name the reason
    if env.get("ok_first"):
        assert summary["rows"][0]["completed"] == 3 and summary["rows"][0]["failed"] == 3


# Faults on the wire itself, with connections reused (2 in flight, 12 requests), through both HTTP clients:
# (mode, exit code, reason every request must fail with; None: each record holds exactly its own 8 tokens).
WIRE_FAULTS = [
    ("pipelined", 0, None),
    ("continue100", 0, None),
    ("bare-cr", 0, None),
    ("multiline", 0, None),
    ("bom", 0, None),
    ("torn", 1, "the stream ended inside an event: non-JSON chunk"),
    ("torn-huge", 1, "the stream ended inside an event: non-JSON chunk"),
    ("gzip", 1, "HTTP 200 but the stream is compressed (gzip encoding)"),
]


@pytest.mark.parametrize("client", ["wire", "aiohttp"])
@pytest.mark.parametrize("mode,code,reason", WIRE_FAULTS, ids=[m for m, _, _ in WIRE_FAULTS])
def test_wire_fault(fault, tmp_path: Path, mode, code, reason, client) -> None:
    """A record never carries another response's tokens, and a stream's odd end is a reason, not a crash."""
    server = fault(mode)
    results = tmp_path / "results"
    proc = glmbench("bench", "--endpoint", server.url, "--workload", "high-conc", "--max-concurrency", "2",
                    "--num-prompts", "12", *LOAD, "--http-client", client, "--results-dir", str(results))
    assert_outcome(proc, code, "every request of high-conc failed" if code == 1 else None)
    [folder] = run_folders(results)
    assert_consistent(folder, "all-failed" if code == 1 else "complete", sent=12)
    records = stored_records(folder)
    if reason is None:
        assert all(r["ok"] for r in records), [r["error"] for r in records if not r["ok"]][:3]
        assert all(r["output_tokens"] == 8 and len(r["chunk_ns"]) == 8 for r in records), \
            [(r["output_tokens"], len(r["chunk_ns"])) for r in records]
        ids = [r["response_id"] for r in records]
        assert len(set(ids)) == 12 and all(i.startswith("cmpl-") and i != "cmpl-stray" for i in ids), ids
    else:
        assert all(reason in r["error"] for r in records), [r["error"] for r in records][:3]


def test_a_server_that_dies_mid_run_under_bench(fault, tmp_path: Path) -> None:
    """Someone else's server dies: every request after it fails with a reason, the run ends, what ended is kept."""
    server = fault("ok", die_after="3", itl_ms="20")
    results = tmp_path / "results"
    proc = glmbench("bench", "--endpoint", server.url, "--workload", "high-conc", "--max-concurrency", "1",
                    "--num-prompts", "10", *LOAD, "--results-dir", str(results))
    assert_outcome(proc, 0)
    [folder] = run_folders(results)
    summary = assert_consistent(folder, "complete", sent=10)
    assert summary["rows"][0]["completed"] == 3
    errors = {r["error"] for r in stored_records(folder) if not r["ok"]}
    assert errors and all(e.startswith(("stream cut mid-way", "cannot connect")) for e in errors), errors


@pytest.mark.parametrize("env,dead,alive", [({"fail_first": "3"}, 1, 2), ({"ok_first": "3"}, 2, 1)],
                         ids=["first-repeat-dead", "last-repeat-dead"])
def test_a_repeat_in_which_every_request_failed_fails_the_run(fault, tmp_path: Path, env, dead, alive) -> None:
    """--repeat N: any one repeat with no success exits 1 and says which, whatever the other repeats did."""
    server = fault("http500", **env)
    results = tmp_path / "results"
    proc = glmbench("run", "--endpoint", server.url, "--workload", "burst", "--num-prompts", "3", "--repeat", "2",
                    *LOAD, "--results-dir", str(results))
    assert_outcome(proc, 1, f"every request of burst failed in repeat {dead} of 2 (most often: HTTP 500: ")
    [parent] = run_folders(results)
    assert_consistent(parent / f"repeat-{dead}", "all-failed", sent=3)
    assert assert_consistent(parent / f"repeat-{alive}", "complete", sent=3)["rows"][0]["completed"] == 3
    assert "mean of 2 repeats" in proc.stdout  # one table: the repeats as one result (the error names the repeat)


# ---------------------------------------------------------------- hostile server text

def test_hostile_model_name_and_text_are_shown_as_data(fault, tmp_path: Path) -> None:
    server = fault("hostile")
    results = tmp_path / "results"
    proc = glmbench("bench", "--endpoint", server.url, "--workload", "burst", "--num-prompts", "3", *LOAD,
                    "--results-dir", str(results))
    assert_outcome(proc, 0)
    for text in (proc.stdout, proc.stderr):
        assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b]0;pwned\\x07" in proc.stderr + proc.stdout  # visible, not executed
    assert "[link=http://evil.example]m[/link]" in "".join(proc.stdout.split())  # literal, not a link (may wrap)
    [folder] = run_folders(results)
    md = glmbench("report", str(folder), "--format", "md")
    assert_outcome(md, 0)
    html_out = tmp_path / "r.html"
    page = glmbench("report", str(folder), "--out", str(html_out))
    assert_outcome(page, 0)
    assert "<script>" not in html_out.read_text() and "\x1b" not in html_out.read_text()


def test_hostile_error_text_is_escaped_in_terminal_and_markdown(fault, tmp_path: Path) -> None:
    """Raw ESC/BEL bytes in a text/plain 500 body, and the same text decoded from an error event: shown as data."""
    server = fault("hostile-error")
    results = tmp_path / "results"
    proc = glmbench("bench", "--endpoint", server.url, "--workload", "burst", "--num-prompts", "4", *LOAD,
                    "--results-dir", str(results))
    assert_outcome(proc, 1, "every request of burst failed")
    for text in (proc.stdout, proc.stderr):
        assert "\x1b" not in text and "\x07" not in text
    assert "[/]" in proc.stdout and "MarkupError" not in proc.stderr
    # Visible, not executed: the escapes are written out, in the notes and in the error line.
    assert "\\x1b]0;pwned\\x07" in "".join(proc.stdout.split()) and "\\x1b[2J" in proc.stderr
    [folder] = run_folders(results)
    errors = [r["error"] for r in stored_records(folder) if not r["ok"]]
    assert len(errors) == 4 and all(e.isprintable() for e in errors), errors  # one visible line each
    assert {e.split(":")[0] for e in errors} == {"HTTP 500", "server error in stream"}, errors
    assert all("injected [/] \\x1b[2J <script>" in e and "\\x1b]0;pwned\\x07" in e for e in errors), errors
    for args in (("report", str(folder), "--format", "md"), ("report", str(folder), str(folder), "--format", "md"),
                 ("compare", str(folder), str(folder), "--format", "md")):
        md = glmbench(*args)
        assert md.returncode in (0, 1) and "Traceback" not in md.stderr, md.stderr
        assert "<script>" not in md.stdout and "\x1b" not in md.stdout and "\x07" not in md.stdout, md.stdout
    md = glmbench("report", str(folder), "--format", "md")
    assert "&lt;script&gt;" in md.stdout and "\\\\x1b" in md.stdout  # the markdown shows the text, escaped
    table = glmbench("report", str(folder))
    assert_outcome(table, 0)
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout and "[/]" in table.stdout
    page = tmp_path / "r.html"
    assert_outcome(glmbench("report", str(folder), "--out", str(page)), 0)
    assert "<script>" not in page.read_text() and "\x1b" not in page.read_text()


def test_a_result_folder_holding_raw_server_text_is_shown_as_data(fault, tmp_path: Path) -> None:
    """Files that hold server text unescaped (a folder from before escaping, or another tool's): reports escape it."""
    raw = "HTTP 500: injected [/] \x1b[2J <script>alert(1)</script> [bold red]x[/bold red] \x1b]0;pwned\x07 | pipe |"
    results = tmp_path / "results"
    assert_outcome(glmbench("bench", "--endpoint", fault("http500").url, "--workload", "burst", "--num-prompts", "2",
                            *LOAD, "--results-dir", str(results)), 1, "every request of burst failed")
    [folder] = run_folders(results)
    summary = json.loads((folder / "summary.json").read_text())
    for row in summary["rows"]:
        row["errors"] = {raw: row["failed"]}
    (folder / "summary.json").write_text(json.dumps(summary))  # JSON keeps ESC as \u001b; it reads back raw
    records = [{**r, "error": raw} for r in stored_records(folder)]
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    for args in (("report", str(folder), "--format", "md"), ("report", str(folder), str(folder), "--format", "md"),
                 ("compare", str(folder), str(folder), "--format", "md"), ("report", str(folder))):
        shown = glmbench(*args)
        assert shown.returncode in (0, 1) and "Traceback" not in shown.stderr, shown.stderr
        for text in (shown.stdout, shown.stderr):
            assert "\x1b" not in text and "\x07" not in text, text
        if "md" in args:  # compare's markdown lists no reasons; a report's does, escaped
            assert "<script>" not in shown.stdout, shown.stdout
            assert args[0] == "compare" or "&lt;script&gt;" in shown.stdout, shown.stdout
    table = glmbench("report", str(folder))
    assert "\\x1b]0;pwned\\x07" in "".join(table.stdout.split()) and "[/]" in table.stdout
    page = tmp_path / "r.html"
    assert_outcome(glmbench("report", str(folder), "--out", str(page)), 0)
    assert "<script>" not in page.read_text() and "\x1b" not in page.read_text()


def test_report_of_a_server_without_metrics(fault, tmp_path: Path) -> None:
    """No /metrics (transformers serve, most external endpoints): the stored scrape is null; plots and HTML still work."""
    server = fault("ok", no_metrics="1")
    results = tmp_path / "results"
    assert_outcome(glmbench("bench", "--endpoint", server.url, "--workload", "burst", "--num-prompts", "4", *LOAD,
                            "--results-dir", str(results)), 0)
    [folder] = run_folders(results)
    scrapes = [json.loads(line) for line in (folder / "server_metrics.jsonl").read_text().splitlines()]
    assert scrapes and all(s["metrics"] is None for s in scrapes)
    out, plots = tmp_path / "r.html", tmp_path / "plots"
    assert_outcome(glmbench("report", str(folder), "--out", str(out), "--plots", str(plots)), 0)
    assert out.stat().st_size > 1000 and any(plots.iterdir())


# ---------------------------------------------------------------- bad input

def test_endpoint_without_v1_is_refused_with_the_right_url(fault, tmp_path: Path) -> None:
    server = fault("ok")
    root = server.url[: -len("/v1")]
    results = tmp_path / "results"
    proc = glmbench("bench", "--endpoint", root, "--num-prompts", "2", *LOAD, "--results-dir", str(results))
    assert_outcome(proc, 2, "is not an OpenAI API root")
    assert f"--endpoint {root}/v1" in proc.stderr
    assert run_folders(results) == []


def test_unreachable_endpoint_leaves_no_folder(tmp_path: Path) -> None:
    results = tmp_path / "results"
    proc = glmbench("bench", "--endpoint", f"http://127.0.0.1:{free_port()}/v1", "--num-prompts", "2", *LOAD,
                    "--results-dir", str(results))
    assert_outcome(proc, 2, "cannot reach")
    assert "start the server" in proc.stderr
    assert run_folders(results) == []


def test_a_listener_that_is_not_http(fault, tmp_path: Path) -> None:
    server = fault("nothttp")
    proc = glmbench("bench", "--endpoint", server.url, "--num-prompts", "2", *LOAD,
                    "--results-dir", str(tmp_path / "results"))
    assert_outcome(proc, 2, "does not answer HTTP")
    assert "start the server" not in proc.stderr and "port" in proc.stderr


@pytest.mark.parametrize("args,error", [
    (["bench", "--endpoint", "http://127.0.0.1:9/v1", "--client-workers", "0"], "Invalid value for '--client-workers'"),
    (["bench", "--endpoint", "http://127.0.0.1:9/v1", "--no-such-option"], "No such option: --no-such-option"),
    (["bench"], "Missing option '--endpoint'"),
    (["no-such-command"], "No such command"),
    (["run", "--num-prompts", "many"], "Invalid value for '--num-prompts'"),
    (["run", "--backend", "no-such-backend"], "no-such-backend"),
    (["run", "--config", "/nonexistent/config.yaml"], "config"),
    (["run", "--workload", "no-such-workload"], "no-such-workload"),
    (["run", "--dataset-path", "/nonexistent/sharegpt.json", "--num-prompts", "2"], "/nonexistent/sharegpt.json"),
    (["run", "--set", "nokeyvalue"], "bad --set"),
    (["run", "--extra-body", "[1, 2]"], "--extra-body is not a JSON object"),
    (["report", "/nonexistent/run"], "no result folder"),
    (["rescore", "/nonexistent/run"], "/nonexistent/run"),
], ids=lambda v: v if isinstance(v, str) else "-".join(v[:2]))
def test_bad_input_is_two_lines(args, error, tmp_path: Path) -> None:
    proc = glmbench(*args, "--results-dir", str(tmp_path / "r")) if args[0] in ("run", "bench") and len(args) > 1 \
        else glmbench(*args)
    assert_outcome(proc, 2, error)
    assert run_folders(tmp_path / "r") == []


@pytest.mark.parametrize("name,content,error", [
    ("sharegpt.json", "[{\"id\": 1, \"conversations\": [", "sharegpt.json"),
    ("sharegpt.json", "{\"not\": \"a list\"}", "sharegpt.json"),
    ("config.yaml", "backend: vllm\ntp: [unclosed", "not valid YAML"),
    ("config.yaml", "backend: vllm\nno_such_field: 1\n", "no_such_field"),
    ("config.yaml", "backend: vllm\ntp: 0\n", "tp"),
    ("suite.yaml", "workloads: {burst: {title: x, request_rate: -1}}\n", "request_rate"),
], ids=["torn-dataset", "dataset-not-a-list", "config-yaml", "config-unknown-field", "config-bad-value",
        "suite-bad-value"])
def test_bad_files_are_two_lines(tmp_path: Path, name, content, error) -> None:
    path = tmp_path / name
    path.write_text(content)
    option = {"sharegpt.json": "--dataset-path", "config.yaml": "--config", "suite.yaml": "--suite"}[name]
    extra = ["--num-prompts", "2"] if name == "sharegpt.json" else []
    proc = glmbench("run", option, str(path), *extra, "--results-dir", str(tmp_path / "r"))
    assert_outcome(proc, 2, error)
    assert run_folders(tmp_path / "r") == []


def test_rescore_skips_lines_that_are_not_records(tmp_path: Path) -> None:
    run = tmp_path / "bfcl-run"
    run.mkdir()
    (run / "config.yaml").write_text("bfcl_suite:\n  categories: [simple]\n")
    (run / "bfcl_records.jsonl").write_bytes(b'[1, 2]\n"text"\n42\nnull\n{"id": 3}\n{"category": "simple"}\n{"id": "x", "categ')
    proc = glmbench("rescore", str(run))
    assert_outcome(proc, 2, "no BFCL records")


def test_results_dir_that_is_a_file(tmp_path: Path, fault) -> None:
    server = fault("ok")
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    proc = glmbench("bench", "--endpoint", server.url, "--num-prompts", "2", *LOAD, "--results-dir", str(blocker))
    assert_outcome(proc, 2, "cannot create result folder")


# ---------------------------------------------------------------- server lifecycle (glmbench's launcher)

@pytest.fixture
def fake_python(tmp_path: Path):
    """An interpreter that runs the fault server where ``python -m glmbench sim`` is asked for.

    Its path marks every process of the test (see :func:`marked`): what a test
    that failed half-way left running is killed when it ends.
    """
    path = write_fake_python(tmp_path / "fake-python")
    yield path
    kill_leftovers(str(path))


def write_fake_python(path: Path) -> Path:
    """A shell script at ``path`` that runs the fault server for ``-m glmbench sim`` and Python for the rest."""
    path.write_text(f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "glmbench" ] && [ "$3" = "sim" ]; then
    exec {sys.executable} {FAULT_SERVER} "$@"
fi
exec {sys.executable} "$@"
""")
    path.chmod(0o755)
    return path


def marked(fake_python: Path) -> list[str]:
    """Settings that start the fault server in place of the simulator, its processes marked with the wrapper's path."""
    mark = str(fake_python)
    return ["--set", f"launch.python={fake_python}", "--set", f"env.FAULT_MARK={mark}",
            "--set", f'extra_args=["--mark", "{mark}"]']


def launched(fake_python: Path, results: Path, *env: str) -> list[str]:
    """``run`` options that start the fault server through glmbench's launcher, FAULT_* settings as ``env``."""
    sets = [*marked(fake_python), "--set", "startup_timeout_s=5", "--set", "scrape_interval_s=0.5"]
    for item in env:
        sets += ["--set", f"env.FAULT_{item}"]
    return ["run", "--backend", "sim", *sets, *LOAD, "--results-dir", str(results)]


def test_launch_with_a_missing_interpreter(tmp_path: Path) -> None:
    proc = glmbench("run", "--backend", "sim", "--set", "launch.python=/nonexistent/bin/python", *LOAD,
                    "--results-dir", str(tmp_path / "r"))
    assert_outcome(proc, 2, "python not found: /nonexistent/bin/python")
    assert "launch.python" in proc.stderr and "reinstall" not in proc.stderr
    assert run_folders(tmp_path / "r") == []


@pytest.mark.parametrize("key", ["launch.python", "launch.venv"])
def test_launch_with_an_interpreter_that_lacks_glmbench(tmp_path: Path, key) -> None:
    """The config names an interpreter without glmbench: the next step names that interpreter, not a reinstall."""
    venv = tmp_path / "bare-venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -S \"$@\"\n")  # -S: no site-packages
    python.chmod(0o755)
    value = python if key == "launch.python" else venv
    # Run outside the checkout: from its root, the package folder there is importable by any interpreter.
    proc = glmbench("run", "--backend", "sim", "--set", f"{key}={value}", *LOAD, "--num-prompts", "2",
                    "--results-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert_outcome(proc, 2, f"module glmbench not importable by {python}")
    assert f"next: install glmbench into {python}, or point {key} at the " in proc.stderr, proc.stderr
    assert "reinstall" not in proc.stderr
    assert run_folders(tmp_path / "r") == []


def test_server_that_exits_at_start_up(fake_python: Path, tmp_path: Path) -> None:
    results = tmp_path / "r"
    proc = glmbench(*launched(fake_python, results, "STARTUP=exit"), "--num-prompts", "2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: server exited with code 3 while starting" in proc.stderr
    assert "next: see " in proc.stderr
    [folder] = run_folders(results)
    assert (folder / "server.log").is_file() and not (folder / ".reserve").exists()
    assert_nothing_left(str(fake_python))


def test_server_never_ready_names_the_configured_limit(fake_python: Path, tmp_path: Path) -> None:
    proc = glmbench(*launched(fake_python, tmp_path / "r", "STARTUP=never-ready"), "--set", "startup_timeout_s=3",
                    "--num-prompts", "2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not ready at" in proc.stderr and "after 3 s:" in proc.stderr, proc.stderr
    assert "startup_timeout_s" in proc.stderr
    assert_nothing_left(str(fake_python))


def test_port_taken(fault, fake_python: Path, tmp_path: Path) -> None:
    other = fault("ok")
    proc = glmbench(*launched(fake_python, tmp_path / "r"), "--set", f"port={other.port}", "--num-prompts", "2")
    assert_outcome(proc, 2, f"port {other.port} is taken")
    assert run_folders(tmp_path / "r") == []


def test_server_dies_mid_run(fake_python: Path, tmp_path: Path) -> None:
    results = tmp_path / "r"
    proc = glmbench(*launched(fake_python, results, "DIE_AFTER=4", "ITL_MS=30"), "--workload", "high-conc",
                    "--max-concurrency", "1", "--num-prompts", "40")
    assert_outcome(proc, 1, "server exited with code 1 mid-run")
    [folder] = run_folders(results)
    summary = assert_consistent(folder, "server-died")
    assert summary["aborted_by"] == "server-died" and summary["rows"][0]["completed"] == 4
    assert_nothing_left(str(fake_python))


def test_whole_process_group_is_stopped(fake_python: Path, tmp_path: Path) -> None:
    results = tmp_path / "r"
    proc = glmbench(*launched(fake_python, results, "CHILD=1"), "--num-prompts", "4")
    assert_outcome(proc, 0)
    assert_consistent(run_folders(results)[0], "complete", sent=4)
    assert_nothing_left(str(fake_python))


def _wait_for(path_or_proc, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in Path(path_or_proc).read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("phase", ["starting", "running"])
def test_interrupt_at_each_phase(fake_python: Path, tmp_path: Path, sig, phase) -> None:
    results, err = tmp_path / "r", tmp_path / "stderr.txt"
    args = launched(fake_python, results, "STARTUP=slow", "STARTUP_S=3", "ITL_MS=50", "TOKENS=40")
    with err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "glmbench", *args, "--workload", "high-conc",
                                 "--max-concurrency", "2", "--num-prompts", "40", "--output-len", "40"],
                                stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO, preexec_fn=at_a_terminal)
        _wait_for(err, "starting sim" if phase == "starting" else "running high-conc")
        time.sleep(1.0 if phase == "starting" else 2.5)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    shown = err.read_text()
    assert proc.returncode == 130, shown
    assert "Traceback" not in shown
    if phase == "running":
        [folder] = run_folders(results)
        summary = assert_consistent(folder, "interrupted")
        assert summary["rows"][0]["interrupted"] and summary["rows"][0]["completed"] > 0
        assert "interrupted" in out
    assert_nothing_left(str(fake_python))


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a job it starts with '&'.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("command", ["serve", "run"])
def test_sigterm_stops_a_background_job(fake_python: Path, tmp_path: Path, command) -> None:
    results, err = tmp_path / "r", tmp_path / "stderr.txt"
    if command == "serve":
        args = ["serve", "--backend", "sim", *marked(fake_python), "--log", str(tmp_path / "s.log")]
        ready = "Ctrl-C stops it"
    else:
        args = [*launched(fake_python, results, "ITL_MS=50", "TOKENS=40"), "--workload", "high-conc",
                "--max-concurrency", "2", "--num-prompts", "40", "--output-len", "40"]
        ready = "running high-conc"
    with err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "glmbench", *args], stdout=subprocess.DEVNULL, stderr=stderr,
                                cwd=REPO, preexec_fn=_ignore_sigint)
        _wait_for(err, ready)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)  # ignored, as in a background job
        time.sleep(0.5)
        assert proc.poll() is None
        proc.terminate()
        code = proc.wait(timeout=30)
    assert code == (0 if command == "serve" else 130), err.read_text()
    if command == "run":
        assert_consistent(run_folders(results)[0], "interrupted")
    assert_nothing_left(str(fake_python))


def test_server_does_not_outlive_a_killed_glmbench(fake_python: Path, tmp_path: Path) -> None:
    """SIGKILL, as CI runners, Ray and Kubernetes send after their grace period: the watchdog stops the server group."""
    err = tmp_path / "stderr.txt"
    with err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "glmbench", "serve", "--backend", "sim", *marked(fake_python),
                                 "--set", "env.FAULT_CHILD=1", "--log", str(tmp_path / "s.log")],
                                stdout=subprocess.DEVNULL, stderr=stderr, cwd=REPO, preexec_fn=_ignore_sigint)
        _wait_for(err, "Ctrl-C stops it")
        time.sleep(0.5)  # the child is started
        ours = [cmd for _, cmd in live_processes() if str(fake_python) in cmd and "glmbench serve" not in cmd]
        assert len(ours) == 2, ours  # the server and its child
        proc.kill()
        proc.wait(timeout=5)
    assert_nothing_left(str(fake_python))


# ---------------------------------------------------------------- a disk that fills

@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 96 KiB tmpfs; skipped, with the reason shown, where mounting is impossible."""
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'mount failed'}); "
                    "the disk-full cases need root or CAP_SYS_ADMIN")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("workload", [["--workload", "high-conc", "--max-concurrency", "32"],
                                      ["--workload", "steady", "--request-rate", "200"],
                                      ["--workload", "high-conc", "--max-concurrency", "32", "--client-workers", "2"]],
                         ids=["closed", "open", "workers"])
def test_disk_full_stops_the_run_and_keeps_what_was_written(fault, tiny_disk: Path, workload) -> None:
    server = fault("ok", tokens="4", itl_ms="1")
    proc = glmbench("bench", "--endpoint", server.url, *workload, "--num-prompts", "400", *LOAD,
                    "--output-len", "4", "--results-dir", str(tiny_disk), timeout=60)
    assert_outcome(proc, 1, "No space left on device")
    assert "records.jsonl" in proc.stderr and "--results-dir" in proc.stderr
    [folder] = run_folders(tiny_disk)
    summary = assert_consistent(folder, "write-failed")
    assert summary["aborted_by"] == "write-failed"
    assert 0 < len(stored_records(folder)) < 400


# ---------------------------------------------------------------- BFCL runs against the same faults

MINI = REPO / "tests" / "data" / "bfcl_mini"


def _bfcl(server: FaultServer, results: Path, *args: str) -> subprocess.CompletedProcess:
    return glmbench("bfcl", "--endpoint", server.url, "--data-dir", str(MINI), "--categories", "simple,irrelevance",
                    "--results-dir", str(results), *args)


def test_bfcl_where_every_request_fails_exits_1(fault, tmp_path: Path) -> None:
    results = tmp_path / "r"
    proc = _bfcl(fault("http500"), results)
    assert_outcome(proc, 1, "every BFCL request failed at the API")
    [folder] = run_folders(results)
    assert json.loads((folder / "manifest.json").read_text())["status"] == "all-failed"
    assert not (folder / ".reserve").exists()


def test_bfcl_an_entry_a_retry_answered_counts_by_its_first_attempt(fault, tmp_path: Path) -> None:
    """The retried answer came at another load: it is kept and shown beside the figure, never in it."""
    server = fault("http500", fail_first="1")  # the first request fails; its retry and every later one answer
    results = tmp_path / "r"
    proc = glmbench("bfcl", "--endpoint", server.url, "--data-dir", str(MINI), "--categories", "irrelevance",
                    "--concurrency", "1", "--results-dir", str(results))
    assert_outcome(proc, 0)
    [folder] = run_folders(results)
    records = [json.loads(line) for line in (folder / "bfcl_records.jsonl").read_text().splitlines()]
    [retried] = [r for r in records if r.get("first_error")]
    assert retried["attempts"] == 2 and retried["first_error"].startswith("HTTP 500") and not retried["error"]
    # The made-up entries of MINI are v3's alone: the v4 rules store them as not scored (no v4 twin).
    v3 = ("lightllm", "bfcl")
    assert all(v.get("scored") is False for r in records for k, v in r["verdicts"].items() if k not in v3)
    assert all(not retried["verdicts"][k]["ok"]
               and retried["verdicts"][k]["reason"].startswith("request failed on its first attempt")
               for k in v3), retried["verdicts"]
    # Irrelevance passes on an answer without calls, as the retried one is: it would have passed.
    assert all(retried["retried_verdicts"][k]["ok"] for k in v3)
    others = [r for r in records if not r.get("first_error")]
    assert others and all(r["verdicts"][k]["ok"] for r in others for k in v3)
    assert "1 entries failed on their first attempt" in proc.stderr
    summary = json.loads((folder / "summary.json").read_text())
    for table in (summary["tables"][k] for k in v3):
        [row] = [r for r in table if r["category"] == "irrelevance"]
        assert row["correct"] == len(records) - 1, row
    # Scored again from the stored records, the entry still counts by its first attempt.
    rescored = glmbench("rescore", str(folder), "--data-dir", str(MINI))
    assert_outcome(rescored, 0)
    summary = json.loads((folder / "summary.json").read_text())
    for table in (summary["tables"][k] for k in v3):
        [row] = [r for r in table if r["category"] == "irrelevance"]
        assert row["correct"] == len(records) - 1, row


def test_bfcl_a_conversation_whose_step_a_retry_answered_counts_by_its_first_attempt(fault, tmp_path: Path) -> None:
    server = fault("http500", fail_first="1")
    results = tmp_path / "r"
    proc = glmbench("bfcl", "--endpoint", server.url, "--data-dir", str(MINI), "--categories", "multi_turn_base",
                    "--limit", "1", "--results-dir", str(results))
    assert_outcome(proc, 0)
    [folder] = run_folders(results)
    [record] = [json.loads(line) for line in (folder / "bfcl_records.jsonl").read_text().splitlines()]
    assert record["first_error"].startswith("HTTP 500") and "retried_verdicts" in record
    # BFCL's rules score multi-turn (LightLLM's script leaves it out): the conversation fails on the retried step.
    bfcl = record["verdicts"]["bfcl"]
    assert not bfcl["ok"] and bfcl["reason"].startswith("request failed on its first attempt"), bfcl


def test_bfcl_unreachable_endpoint_leaves_no_folder(tmp_path: Path) -> None:
    results = tmp_path / "r"
    proc = glmbench("bfcl", "--endpoint", f"http://127.0.0.1:{free_port()}/v1", "--data-dir", str(MINI),
                    "--categories", "simple", "--results-dir", str(results))
    assert_outcome(proc, 2, "cannot reach")
    assert run_folders(results) == []


def test_rescore_keeps_the_records_and_skips_foreign_lines(fault, tmp_path: Path) -> None:
    results = tmp_path / "r"
    assert_outcome(_bfcl(fault("ok"), results), 0)
    [folder] = run_folders(results)
    before = json.loads((folder / "summary.json").read_text())["tables"]
    with (folder / "bfcl_records.jsonl").open("ab") as f:
        f.write(b'[1, 2]\n"text"\n{"id": 7, "category": "simple"}\n{"no": "id"}\n{"id": "simple_0", "cat')
    proc = glmbench("rescore", str(folder), "--data-dir", str(MINI))
    assert_outcome(proc, 0)
    assert json.loads((folder / "summary.json").read_text())["tables"] == before


def test_bfcl_disk_full_keeps_what_was_written(fault, tiny_disk: Path) -> None:
    proc = glmbench("bfcl", "--endpoint", fault("ok").url, "--data-dir", str(MINI), "--results-dir", str(tiny_disk),
                    "--concurrency", "2", timeout=60)
    assert_outcome(proc, 1, "No space left on device")
    [folder] = run_folders(tiny_disk)
    assert json.loads((folder / "manifest.json").read_text())["status"] == "write-failed"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["interrupted"]
    stored = [line for line in (folder / "bfcl_records.jsonl").read_bytes().splitlines() if line.endswith(b"}")]
    assert 0 < len(stored)


def test_sigterm_during_a_bfcl_run_keeps_the_answers(fault, tmp_path: Path) -> None:
    results, err = tmp_path / "r", tmp_path / "stderr.txt"
    # Three answers (streamed at once: 1,024 tokens each), then a server that never replies.
    server = fault("stall-head", ok_first="3", itl_ms="0")
    with err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "glmbench", "bfcl", "--endpoint", server.url, "--data-dir",
                                 str(MINI), "--concurrency", "1", "--results-dir", str(results)],
                                stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=REPO)
        _wait_for(err, "bfcl: ")
        time.sleep(2.0)
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.read_text()
    assert "Traceback" not in err.read_text()
    [folder] = run_folders(results)
    assert json.loads((folder / "manifest.json").read_text())["status"] == "interrupted"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["interrupted"]
    answered = (folder / "bfcl_records.jsonl").read_text().splitlines()
    assert len(answered) == 3 and "resume" in out
    # The requests that ended keep their figures, marked interrupted; the cut one is no completed request.
    [row] = summary["load"]
    assert row["interrupted"] and row["completed"] == 3


def test_report_skips_lines_that_are_not_records(fault, tmp_path: Path) -> None:
    results = tmp_path / "r"
    assert_outcome(glmbench("bench", "--endpoint", fault("ok").url, "--num-prompts", "4", *LOAD,
                            "--results-dir", str(results)), 0)
    [folder] = run_folders(results)
    with (folder / "records.jsonl").open("ab") as f:
        f.write(b'[1, 2]\n"text"\n{"workload": "burst"}\n{"workload": "burst", "ind')
    for args in (("report", str(folder), "--out", str(tmp_path / "r.html")), ("report", str(folder), str(folder))):
        assert_outcome(glmbench(*args), 0)
