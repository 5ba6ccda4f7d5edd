"""The BFCL releases glmbench reads: each one's wheel on PyPI and its data's file prefix.

A BFCL version is a ``bfcl-eval`` release: its data, its simulated APIs and its
checkers. glmbench knows two (DESIGN.md sections 6 and 14):

- ``2025.6.8``: BFCL v3, the data of the published GLM-4.7-Flash table and of every
  run glmbench made before v4 (the default, so old suites and runs stay as they were);
- ``2026.3.23``: BFCL v4, the leaderboard users compare against today.

A suite names one (``bfcl_version``); its entries are read from that release and
carry its version (:attr:`~glmbench.bfcl.types.BFCLEntry.version`); each rule set
scores the entries of one release (:mod:`glmbench.bfcl.counterparts` finds an
entry's twin in the other). Both wheels are read with :mod:`zipfile`, never
installed or imported.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["V3", "V4", "DEFAULT_VERSION", "BFCLVersion", "VERSIONS", "version_info", "check_version"]

V3 = "2025.6.8"
V4 = "2026.3.23"
DEFAULT_VERSION = V3
"""The version a suite, an entry or a stored run that names none is: every one written before v4 was v3."""


@dataclass(frozen=True)
class BFCLVersion:
    """One ``bfcl-eval`` release as glmbench reads it.

    ``label`` is how tables and messages name it (``v3``); ``prefix`` starts its
    data files' names (``BFCL_v3`` in ``BFCL_v3_simple.json``).
    """

    version: str
    label: str
    wheel_name: str
    sha256: str
    prefix: str

    @property
    def requirement(self) -> str:
        """What pip is asked for: ``bfcl-eval==<version>``."""
        return f"bfcl-eval=={self.version}"

    @property
    def fetch_command(self) -> str:
        """The glmbench command that puts its wheel in the cache."""
        option = "" if self.version == DEFAULT_VERSION else f" --version {self.version}"
        return f"glmbench data fetch bfcl{option}"


VERSIONS: dict[str, BFCLVersion] = {
    V3: BFCLVersion(V3, "v3", "bfcl_eval-2025.6.8-py3-none-any.whl",
                    "f93fee3a66d33f8ea09e5174b4ba72aa80732b31506be1043da8ffb23c299cc3", "BFCL_v3"),
    V4: BFCLVersion(V4, "v4", "bfcl_eval-2026.3.23-py3-none-any.whl",
                    "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a", "BFCL_v4"),
}
"""Every version glmbench knows, oldest first."""


def check_version(version: str) -> str:
    """``version`` when glmbench knows it; else a ValueError naming the known ones."""
    if version not in VERSIONS:
        raise ValueError(f"unknown BFCL version {version!r}; known: {', '.join(VERSIONS)}")
    return version


def version_info(version: str) -> BFCLVersion:
    """The release called ``version`` (a ValueError naming the known ones when it is not one)."""
    return VERSIONS[check_version(version)]
