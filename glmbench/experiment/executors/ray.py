"""The Ray executor: an experiment's server cells on a Ray cluster (``glmbench experiment run FILE --on ray``).

Every cell that has not finished becomes Ray work. Its GPUs are reserved with a
placement group of one bundle per node the server spans (``STRICT_SPREAD`` over
several nodes, so each rank gets a node of its own), each bundle one CPU and the
config's GPUs per node (``gpus``, default ``tp x dp / nodes``) of the resource
named by ``gpu_resource`` (``GPU``: Ray's own, which also sets
``CUDA_VISIBLE_DEVICES``; a custom resource on a test cluster). Then:

- a server over several nodes gets its meeting address from rank 0's node (its
  IP and a free port there), and ranks 1.. are started by actors on the other
  bundles with the backend's own multi-node flags (:mod:`glmbench.backends`);
- the cell itself (rank 0 and the load client, on one node, so no request
  crosses the cluster's network) is one task on bundle 0 that runs the same
  code as a local experiment (:func:`glmbench.experiment.executors.cell.run_cell`) in a
  scratch folder, and sends that cell's folder back packed; the driver unpacks it
  into the experiment folder, so ``report``, ``compare`` and ``history`` read it
  like any. Each point's manifest and the cell's index entry record where it ran.

Cells run in parallel as far as the cluster's free GPUs allow. A cell no node
can hold fails at once with the reason; a node that dies fails its cells (what
they measured went with it) and the others finish; Ctrl-C cancels every task,
stops every rank (force-cancelled workers take their servers with them: the
launcher's watchdog stops a server whose glmbench is gone), writes the index and
raises :class:`~glmbench.api.interrupted.RunInterrupted`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmbench.backends.registry import get_backend
from glmbench.errors import GlmbenchError
from glmbench.experiment.cells import cells
from glmbench.experiment.executors.cell import run_cell
from glmbench.experiment.file import Cell, Experiment
from glmbench.experiment.index import CellEntry, ExperimentIndex, write_index
from glmbench.results.store import now_iso
from glmbench.util.paths import check_name, remove_tree

if TYPE_CHECKING:
    from glmbench.experiment.executors.base import Lab

__all__ = ["RayExecutor", "RayOptions", "connect", "import_ray"]

# How often the driver looks at the other ranks of running multi-node cells, in seconds.
_RANK_POLL_S = 2.0


@dataclass
class RayOptions:
    """Where and how: the cluster's address (None: ``RAY_ADDRESS``, a cluster started on this machine, else a
    new local one, as ``ray.init`` decides) and which Ray resource counts as a GPU."""

    address: str | None = None
    gpu_resource: str = "GPU"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise GlmbenchError("--on ray needs Ray, which is not installed",
                            "pip install 'glmbench[ray]' (Ray 2.60), on the driver and on every node") from None
    return ray


def connect(options: RayOptions) -> Any:
    """Join the Ray cluster as its driver (again: a no-op); the ``ray`` module."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    _reachable(options.address or os.environ.get("RAY_ADDRESS"))
    try:
        ray.init(address=options.address, log_to_driver=False, include_dashboard=False,
                 logging_level=logging.WARNING)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        raise GlmbenchError(f"cannot reach the Ray cluster at {options.address or 'auto'}: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                            "start it with ray start --head, or pass --address HOST:6379") from None
    return ray


def _reachable(address: str | None, timeout_s: float = 10.0) -> None:
    """A GCS address (HOST:PORT) that answers TCP; Ray itself would retry an unreachable one for ever."""
    if not address or address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise GlmbenchError(f"--address {address!r} is not HOST:PORT", "pass the head node as HOST:6379")
    import socket

    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise GlmbenchError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}",
                            "start it with ray start --head, or pass the head's --address HOST:6379") from None


def _pack(folder: Path) -> bytes:
    """A folder as a gzipped tar (empty bytes when it does not exist)."""
    if not folder.is_dir():
        return b""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def _unpack(data: bytes, root: Path, name: str) -> None:
    """Replace the cell folder ``root/name`` with the packed one; tar's ``data`` filter refuses links out and
    absolute paths, and the name must be a folder name, so what is replaced lies inside ``root``."""
    folder = root / check_name(name, "cell folder")
    if folder.exists():
        remove_tree(folder, root)
    folder.mkdir(parents=True)
    if data:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")


def _stamp_manifests(folder: Path, placement: dict[str, Any]) -> None:
    """Record in every result folder of a cell where it ran."""
    from glmbench.results.store import replace_file

    for path in folder.rglob("manifest.json"):
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        manifest["placement"] = placement
        replace_file(path, (json.dumps(manifest, indent=2) + "\n").encode())


def _here(ray: Any) -> dict[str, Any]:
    """This worker's node and what Ray gave it."""
    ctx = ray.get_runtime_context()
    node_id = ctx.get_node_id()
    name = next((n.get("NodeName") for n in ray.nodes() if n.get("NodeID") == node_id), None)
    assigned = {k: v for k, v in ctx.get_assigned_resources().items() if not k.startswith("bundle_group")}
    return {"ray_node_id": node_id, "node_name": name, "node_address": ray.util.get_node_ip_address(),
            "gpus": [str(g) for g in ctx.get_accelerator_ids().get("GPU", [])], "resources": assigned}


def _cell_task(lab: Lab, experiment_json: dict[str, Any], position: int, entry_json: dict[str, Any],
               packed: bytes, api_key: str | None, sets: list[str], queue: Any,
               ranks: list[dict[str, Any]]) -> tuple[dict, bytes]:
    """On the worker: run one cell (rank 0 and the load client) in a scratch folder; its entry and folder, packed."""
    import ray

    experiment = Experiment.model_validate(experiment_json)
    cell = cells(experiment)[position]
    cell = replace(cell, launch=replace(cell.launch, sets=[*cell.launch.sets, *sets]))
    placement = {**_here(ray), "ranks": ranks}
    entry = CellEntry.model_validate(entry_json)
    scratch = Path(tempfile.mkdtemp(prefix="glmbench-cell-"))
    try:
        _unpack(packed, scratch, entry.folder)
        # Only the cell's folder comes back: this index is the worker's scratch copy.
        index = ExperimentIndex(schema_version=1, kind="experiment", name=experiment.name, status="running",
                                started_at=None, finished_at=None, cells=[entry])
        entry.placement = placement
        run_cell(experiment, cell, entry, scratch, api_key, lab.queue_progress(queue, cell.label), index, lab)
        _stamp_manifests(scratch / entry.folder, placement)
        return _entry_json(entry), _pack(scratch / entry.folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _entry_json(entry: CellEntry) -> dict[str, Any]:
    """A cell entry as it travels between driver and worker: the fields set, so it comes back as it went."""
    return entry.model_dump(mode="json", exclude_unset=True)


def _meeting_point() -> dict[str, Any]:
    """On rank 0's node: its address and a free port where the ranks will meet."""
    import ray

    from glmbench.backends.process import free_port

    return {**_here(ray), "port": free_port()}


class _Rank:
    """A rank other than 0 of a server over several nodes, on its own node (a Ray actor)."""

    def __init__(self) -> None:
        self.server: Any = None
        self.log: Path | None = None

    def start(self, lab: Lab, experiment_json: dict[str, Any], position: int, sets: list[str]) -> dict[str, Any]:
        import ray

        from glmbench.backends.launch import start_server
        from glmbench.backends.registry import get_backend

        cell = cells(Experiment.model_validate(experiment_json))[position]
        cfg = lab.resolve_config(replace(cell.launch, sets=[*cell.launch.sets, *sets]))
        self.log = Path(tempfile.mkdtemp(prefix="glmbench-rank-")) / "server.log"
        self.server = start_server(get_backend(cfg.backend), cfg, self.log)
        return {**_here(ray), "rank": cfg.node.rank if cfg.node else None, "command": self.server.command}

    def exit_code(self) -> int | None:
        return self.server.exit_code() if self.server else None

    def log_tail(self, lines: int | None = 20) -> str:
        """The last ``lines`` of the rank's server log (all of it with None)."""
        try:
            text = self.log.read_text(errors="replace") if self.log else ""
        except OSError:
            return ""
        return text if lines is None else "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@dataclass
class _Running:
    """A cell on the cluster: its placement group, the actors of its other ranks, and its task."""

    position: int
    cell: Cell
    nodes: int
    bundle: dict[str, float]  # what each of its nodes gives it
    startup_s: float  # its config's startup_timeout_s, for starting the other ranks
    pg: Any
    ready: Any
    task: Any = None
    ranks: list[Any] = field(default_factory=list)
    rank_info: list[dict[str, Any]] = field(default_factory=list)
    polled: float = 0.0


def _bundle(cfg_gpus: int, gpu_resource: str) -> dict[str, float]:
    bundle: dict[str, float] = {"CPU": 1.0}
    if cfg_gpus:
        bundle[gpu_resource] = float(cfg_gpus)
    return bundle


def _task_resources(bundle: dict[str, float]) -> dict[str, Any]:
    """Ray ``options`` that take a whole bundle (``num_gpus`` for Ray's own GPUs, so it sets CUDA_VISIBLE_DEVICES)."""
    rest = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU")}
    return {"num_cpus": bundle["CPU"], "num_gpus": bundle.get("GPU", 0), "resources": rest}


def _cluster_room(ray: Any, bundle: dict[str, float]) -> int:
    """How many live nodes could hold one bundle on their own."""
    return sum(1 for node in ray.nodes() if node.get("Alive")
               and all(node.get("Resources", {}).get(k, 0.0) >= v for k, v in bundle.items()))


def _fail(entry: CellEntry, reason: str) -> None:
    entry.fail(reason)
    entry.finished_at = now_iso()


def _lost_reason(ray: Any, exc: BaseException, where: dict[str, Any] | None) -> str:
    """One line on why a cell's Ray work ended without its results."""
    node = f"node {where['node_address']} ({where['ray_node_id'][:12]})" if where else "its node"
    if isinstance(exc, (ray.exceptions.NodeDiedError, ray.exceptions.WorkerCrashedError,
                        ray.exceptions.ActorDiedError, ray.exceptions.OwnerDiedError)):
        return f"{node} was lost while running this cell ({type(exc).__name__}); what it measured went with it"
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
        message = getattr(cause, "message", None) or str(cause).splitlines()[0]
        return f"the cell failed on {node}: {message}"
    return f"the cell's Ray work on {node} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class RayExecutor:
    """Cells in parallel over a Ray cluster's nodes, as far as its free GPUs allow."""

    def __init__(self, options: RayOptions) -> None:
        self.options = options

    def connect(self) -> None:
        """Ray missing, or no cluster there: say so before any folder exists."""
        connect(self.options)

    def run(self, experiment: Experiment, planned: list[Cell], index: ExperimentIndex, folder: Path,
            api_key: str | None, progress: Any, lab: Lab) -> None:
        """Run every cell of ``index`` not yet complete on the cluster (:func:`run_cells_on_ray`)."""
        run_cells_on_ray(experiment, planned, index, folder, api_key, progress, self.options, lab)


def run_cells_on_ray(experiment: Experiment, planned: list[Cell], index: ExperimentIndex, folder: Path,
                     api_key: str | None, progress: Any, options: RayOptions, lab: Lab) -> None:
    """Run every cell of ``index`` not yet complete on the Ray cluster; the index is updated and written as they end.

    Each cell runs on a worker with :func:`~glmbench.experiment.executors.cell.run_cell`, as a local one does.

    Raises ``KeyboardInterrupt`` after cancelling everything, for the caller to record.
    """
    ray = connect(options)
    api_key = api_key or os.environ.get("OPENAI_API_KEY")  # the workers do not share this environment
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    experiment_json = experiment.model_dump(mode="json")
    queue = Queue(maxsize=10_000, actor_options={"num_cpus": 0})
    cell_task = ray.remote(max_retries=0)(_cell_task)
    meeting = ray.remote(num_cpus=0, max_retries=0)(_meeting_point)
    rank_actor = ray.remote(max_restarts=0)(_Rank)
    running: dict[int, _Running] = {}

    def place(where: _Running, bundle_index: int) -> PlacementGroupSchedulingStrategy:
        return PlacementGroupSchedulingStrategy(where.pg, placement_group_bundle_index=bundle_index)

    def release(run: _Running) -> None:
        for actor in run.ranks:
            try:
                ray.get(actor.stop.remote(), timeout=30)
            except Exception:
                pass
            ray.kill(actor)
        remove_placement_group(run.pg)
        running.pop(run.position, None)

    def finish(run: _Running, entry: CellEntry) -> None:
        index.cells[run.position] = entry
        for rank, actor in enumerate(run.ranks, start=1):  # the other ranks' logs, beside rank 0's server.log
            try:
                text = ray.get(actor.log_tail.remote(None), timeout=30)
                (folder / entry.folder).mkdir(exist_ok=True)
                (folder / entry.folder / f"server-rank{rank}.log").write_text(text)
            except Exception:  # a lost rank has no log to give
                pass
        release(run)
        write_index(folder, index)
        progress.cell_done(run.cell.label, entry.status, entry.reason)

    try:
        for position, (cell, entry) in enumerate(zip(planned, index.cells)):
            if entry.status == "complete":
                continue
            cfg = lab.resolve_config(cell.launch)
            bundle = _bundle(get_backend(cfg.backend).gpus_per_node(cfg), options.gpu_resource)
            room = _cluster_room(ray, bundle)
            if room < cfg.nodes:
                what = ", ".join(f"{v:g} {k}" for k, v in bundle.items())
                _fail(entry, f"needs {cfg.nodes} node(s) with {what} free each; the cluster has {room} such node(s)")
                write_index(folder, index)
                progress.cell_done(cell.label, "failed", entry.reason)
                continue
            pg = placement_group([dict(bundle) for _ in range(cfg.nodes)],
                                 strategy="STRICT_SPREAD" if cfg.nodes > 1 else "PACK",
                                 name=f"glmbench-{experiment.name}-{position}")
            entry.status, entry.reason = "queued", None
            running[position] = _Running(position, cell, cfg.nodes, bundle, cfg.startup_timeout_s, pg, pg.ready())
        write_index(folder, index)

        while running:
            waiting = {r.task if r.task is not None else r.ready: r for r in running.values()}
            done, _ = ray.wait(list(waiting), num_returns=1, timeout=0.5)
            _drain(queue, progress)
            for ref in done:
                run = waiting[ref]
                entry = index.cells[run.position]
                if run.task is None:  # its GPUs are reserved: start the other ranks, then the cell
                    try:
                        _start(ray, run, entry, experiment_json, api_key, queue, cell_task, meeting, rank_actor,
                               place, _pack(folder / entry.folder), lab)
                    except Exception as exc:
                        reason = exc.message if isinstance(exc, GlmbenchError) else _lost_reason(ray, exc, None)
                        _fail(entry, reason)
                        finish(run, entry)
                        continue
                    write_index(folder, index)
                    progress.cell_placed(run.cell.label, run.rank_info)
                    continue
                try:
                    returned, packed = ray.get(ref)
                    new_entry = CellEntry.model_validate(returned)
                except Exception as exc:
                    _fail(entry, _lost_reason(ray, exc, run.rank_info[0] if run.rank_info else None))
                    finish(run, entry)
                    continue
                try:
                    _unpack(packed, folder, new_entry.folder)
                except (OSError, tarfile.TarError, GlmbenchError) as exc:
                    _fail(entry, f"the cell ran, but its results could not be written into {folder}: "
                                 f"{getattr(exc, 'strerror', None) or exc}")
                    finish(run, entry)
                    continue
                finish(run, new_entry)
            for run, reason in _stalled(ray, running):
                entry = index.cells[run.position]
                _fail(entry, reason)
                finish(run, entry)
        _drain(queue, progress)
    except BaseException:
        for run in list(running.values()):
            if run.task is not None:
                ray.cancel(run.task, force=True)
            entry = index.cells[run.position]
            if entry.status in ("queued", "running"):
                entry.status, entry.finished_at = "interrupted", now_iso()
                for pentry in entry.points:
                    if pentry.status == "running":
                        pentry.status = "interrupted"
            try:
                release(run)
            except Exception:
                pass
        raise
    finally:
        try:
            queue.shutdown()
        except Exception:
            pass


def _start(ray: Any, run: _Running, entry: CellEntry, experiment_json: dict[str, Any], api_key: str | None,
           queue: Any, cell_task: Any, meeting: Any, rank_actor: Any, place: Any, packed: bytes, lab: Lab) -> None:
    """Start a placed cell: over several nodes the meeting point and ranks 1.., then the cell's task on bundle 0."""
    sets: list[str] = []
    run.rank_info = [ray.get(meeting.options(scheduling_strategy=place(run, 0)).remote(), timeout=120)]
    if run.nodes > 1:
        head = f"{run.rank_info[0]['node_address']}:{run.rank_info[0]['port']}"
        sets = ["node.rank=0", f"node.head={head}"]
        for rank in range(1, run.nodes):
            actor = rank_actor.options(scheduling_strategy=place(run, rank), **_task_resources(run.bundle)).remote()
            run.ranks.append(actor)
            run.rank_info.append(ray.get(actor.start.remote(lab, experiment_json, run.position,
                                                            [f"node.rank={rank}", f"node.head={head}"]),
                                         timeout=run.startup_s))
    entry.status, entry.started_at = "running", now_iso()
    entry.placement = {**{k: v for k, v in run.rank_info[0].items() if k != "port"}, "ranks": run.rank_info[1:]}
    run.task = cell_task.options(scheduling_strategy=place(run, 0), **_task_resources(run.bundle)).remote(
        lab, experiment_json, run.position, _entry_json(entry), packed, api_key, sets, queue, run.rank_info[1:])


def _stalled(ray: Any, running: dict[int, _Running]) -> list[tuple[_Running, str]]:
    """Cells that cannot go on, each with why: a multi-node cell whose other rank has exited (rank 0 alone
    cannot serve; its task is cancelled here), and a queued cell that no node left in the cluster can hold
    (a node died). Each cell is looked at every few seconds."""
    now = time.monotonic()
    stalled = []
    for run in running.values():
        if now - run.polled < _RANK_POLL_S:
            continue
        run.polled = now
        if run.task is None:
            room = _cluster_room(ray, run.bundle)
            if room < run.nodes:
                stalled.append((run, f"needs {run.nodes} node(s) that can hold it; {room} left in the cluster"))
            continue
        for rank, actor in enumerate(run.ranks, start=1):
            try:
                code = ray.get(actor.exit_code.remote(), timeout=10)
            except Exception:
                code = "lost"
            if code is None:
                continue
            tail = ""
            if code != "lost":
                try:
                    tail = ray.get(actor.log_tail.remote(), timeout=10)
                except Exception:
                    pass
            ray.cancel(run.task, force=True)
            where = run.rank_info[rank] if rank < len(run.rank_info) else None
            node = f" on {where['node_address']}" if where else ""
            stalled.append((run, f"rank {rank}{node} " + ("was lost" if code == "lost" else f"exited with code {code}")
                            + (f"; its log ends: {tail.splitlines()[-1]}" if tail.strip() else "")))
            break
    return stalled


def _drain(queue: Any, progress: Any) -> None:
    """Show what the workers reported since last time."""
    while True:
        try:
            item = queue.get_nowait()
        except Exception:
            return
        kind, cell, *args = item
        if kind == "point_done":
            progress.point_done(cell, *args)
        elif kind == "warning":
            progress.warning(f"{cell}: {args[0]}")
