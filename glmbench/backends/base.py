"""The backend seam: a backend turns settings into a running server that the load client can reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from glmbench.backends.process import ServerProcess

__all__ = ["Backend", "Server"]


@dataclass
class Server:
    """A server ready for requests: where it is and, if glmbench started it, the process."""

    name: str
    base_url: str
    model: str
    version: str | None = None
    process: ServerProcess | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> list[str] | None:
        return self.process.command if self.process else None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class Backend(Protocol):
    """Starts a server for a run. ``start`` returns only once the server answers its readiness check."""

    name: str

    def start(self, log_path: Path, model: str | None) -> Server: ...
