"""The lifecycle of a server process: start in its own group, wait until ready, stop the whole group.

Servers such as vLLM spread over several processes, so the launcher starts a
new session and signals the process group: SIGTERM, then SIGKILL after a grace
period. A process that dies while starting is reported with its exact command
and the tail of its log.

A server never outlives the glmbench process that started it, however that
process ends (SIGKILL from a CI runner, Ray or Kubernetes after their grace
period, the OOM killer): a small watchdog process in a session of its own holds
the read end of a pipe whose write end only glmbench holds. When glmbench stops
the server it says so on the pipe; when the pipe closes without a word, glmbench
is gone, and the watchdog stops the server's group as ``stop`` would.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from glmbench.errors import GlmbenchError

__all__ = ["ServerProcess", "free_port", "port_is_free", "wait_port_free"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) != 0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _pin(cpus: Sequence[int]):
    """A pre-exec hook that pins the child (and so all its children) to ``cpus``."""
    wanted = set(cpus)

    def pin() -> None:
        os.sched_setaffinity(0, wanted)

    return pin


# The watchdog: plain Python, no imports beyond the standard library, started with -S.
_WATCHDOG = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
pgid, grace, cleanup = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
if sys.stdin.buffer.read():
    sys.exit(0)
try:
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        os.killpg(pgid, 0)
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)
except ProcessLookupError:
    pass
if cleanup:
    subprocess.run(cleanup, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=30, check=False)
"""


class _Watchdog:
    """Stops a process group once the process that made this object is gone (see the module docstring)."""

    def __init__(self, pgid: int, grace_s: float, cleanup: Sequence[str] | None) -> None:
        read_end, self._write_end = os.pipe()  # not inherited by anything started later (O_CLOEXEC)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-S", "-c", _WATCHDOG, str(pgid), str(grace_s), *(cleanup or [])],
                stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            os.close(read_end)

    def disarm(self) -> None:
        """The server was stopped here: tell the watchdog to leave it, and wait for it to go."""
        if self._write_end < 0:
            return
        try:
            os.write(self._write_end, b"stopped")
        except OSError:
            pass
        os.close(self._write_end)
        self._write_end = -1
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class ServerProcess:
    """A started server; ``stop()`` is safe to call more than once."""

    def __init__(self, command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None,
                 cleanup: Sequence[str] | None = None, cpus: Sequence[int] | None = None) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.env_overrides = dict(env or {})
        self.cleanup = list(cleanup) if cleanup else None
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env_overrides}, start_new_session=True,
                preexec_fn=_pin(cpus) if cpus else None,
            )
        except OSError as exc:
            self._log.close()
            raise GlmbenchError(f"cannot start {shlex.join(self.command)}: {exc.strerror}",
                                "check that the backend is installed (glmbench backends)") from None
        self._watchdog = _Watchdog(self.proc.pid, self.GRACE_S, self.cleanup)

    def describe(self) -> str:
        return shlex.join(self.command)

    def wait_ready(self, url: str, timeout_s: float, poll_s: float = 0.2, env_line: str | None = None,
                   limit_s: float | None = None) -> None:
        """Poll ``url`` until it answers 200; fail if the process exits or time runs out.

        ``env_line`` is the command as it should appear in the error (with the
        environment it adds, secrets hidden); ``limit_s`` the start-up limit the
        error names when ``timeout_s`` is what is left of it.
        """
        deadline = time.monotonic() + timeout_s
        shown = env_line or self.describe()
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise GlmbenchError(
                    f"server exited with code {code} while starting: {shown}\n{_tail(self.log_path)}",
                    f"see {self.log_path}",
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(poll_s)
        self.stop()
        raise GlmbenchError(f"server not ready at {url} after {limit_s or timeout_s:g} s: {shown}\n{_tail(self.log_path)}",
                            f"see {self.log_path}, or raise startup_timeout_s (--set startup_timeout_s=SECONDS)")

    # Seconds between SIGTERM and SIGKILL.
    GRACE_S = 10.0

    def stop(self, grace_s: float = GRACE_S) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace_s``."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        # Children that outlived the leader still hold the group id.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.cleanup:
            # A container outlives its client process; remove it by name.
            try:
                subprocess.run(self.cleanup, stdout=self._log, stderr=subprocess.STDOUT, timeout=30, check=False)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
            self.cleanup = None
        self._watchdog.disarm()
        if not self._log.closed:
            self._log.close()


def wait_port_free(port: int, timeout_s: float = 10.0) -> bool:
    """Wait until nothing listens on ``port``; False if something still does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_is_free(port):
            return True
        time.sleep(0.1)
    return port_is_free(port)
