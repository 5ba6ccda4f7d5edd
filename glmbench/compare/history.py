"""A metric across many result folders, in the order the runs started (the nightly trend)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from glmbench.compare.sides import find_result_folders
from glmbench.errors import GlmbenchError
from glmbench.metrics.registry import axis_label
from glmbench.util.yamlsafe import load_yaml

__all__ = ["HistoryPoint", "history", "plot_history"]


@dataclass(frozen=True)
class HistoryPoint:
    """One run's value of the metric, with when it started and what served it."""

    run_id: str
    started_at: str
    backend: str
    config: str
    value: float


def _config_label(folder: Path, backend: str) -> str:
    """The config name the run was started with (``backend`` in config.yaml), else the backend name."""
    path = folder / "config.yaml"
    if path.is_file():
        try:
            data = load_yaml(path.read_text(), str(path)) or {}
        except (yaml.YAMLError, GlmbenchError):
            data = {}
        label = data.get("backend") if isinstance(data, dict) else None
        if isinstance(label, str):
            return label
    return backend


def history(root: Path, metric: str, workload: str) -> tuple[list[HistoryPoint], int]:
    """Points in start-time order, and how many published reference folders were left out.

    For BFCL runs ``workload`` is a category (OVERALL included) and ``metric`` is ``accuracy``.
    """
    from glmbench.results.store import load_any_summary, load_manifest

    root = Path(root)
    if not root.is_dir():
        raise GlmbenchError(f"no folder at {root}", "pass the folder your runs write to, e.g. results/")
    points, skipped = [], 0
    for folder in find_result_folders(root):
        manifest = load_manifest(folder)
        if manifest.dataset.get("published"):
            skipped += 1
            continue
        summary = load_any_summary(folder)
        if summary.kind == "equivalence":
            continue  # outputs, not a metric over time: glmbench compare judges two of them
        if summary.kind == "bfcl":
            rows = summary.tables.get(summary.primary, [])
            row = next((r for r in rows if r.get("category") == workload), None)
        else:
            row = next((r for r in summary.rows if r.get("workload") == workload), None)
        value = row.get(metric) if row else None
        if isinstance(value, (int, float)):
            points.append(HistoryPoint(str(folder.relative_to(root)) if folder != root else folder.name,
                                       manifest.started_at, manifest.backend.name,
                                       manifest.label or _config_label(folder, manifest.backend.name),
                                       float(value)))
    if not points:
        raise GlmbenchError(f"no run under {root} has {metric} for {workload}",
                            "check the metric (a summary key such as ttft_ms_p99) and the workload name")
    points.sort(key=lambda p: (p.started_at, p.run_id))
    return points, skipped


def plot_history(points: list[HistoryPoint], metric: str, workload: str, out: Path) -> Path:
    """A PNG (or SVG, by the suffix): the metric per run in time order, one line per config."""
    try:
        import matplotlib
    except ImportError:
        raise GlmbenchError("plots need matplotlib", "pip install matplotlib") from None
    matplotlib.use("Agg")
    from datetime import datetime

    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for config in sorted({p.config for p in points}):
        mine = [p for p in points if p.config == config]
        # matplotlib's date converter takes datetimes; its stubs type plot's x as arrays only.
        ax.plot([datetime.fromisoformat(p.started_at) for p in mine], [p.value for p in mine],  # type: ignore[arg-type]
                marker="o", label=config if config == mine[0].backend else f"{config} ({mine[0].backend})")
    ax.set_title(f"{metric}, {workload}: {len(points)} runs")
    # The registry's name and unit (``TTFT p99 (ms)``); the title keeps the key the user asked for.
    ax.set_ylabel(axis_label(metric))
    ax.set_xlabel("run started (UTC)")
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize="small")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
