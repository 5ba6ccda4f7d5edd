"""The library layer: what the CLI, tests, notebooks and remote workers call to serve, load and evaluate.

Every function here takes a progress object (:class:`Progress`) and returns
data; none prints. A user mistake is a :class:`~glmbench.errors.GlmbenchError`
raised before anything starts; Ctrl-C is :class:`RunInterrupted`, carrying what
was kept. In brief::

    from glmbench.api import Launch, RunOptions, run_load

    result = run_load(Launch(backend="sim"), RunOptions(workload="burst", num_prompts=50))
    print(result.path, result.rows[0]["output_tok_s"])
"""

from glmbench.api.bfcl_run import (
    BFCLResult,
    is_bfcl_suite,
    load_bfcl_suite,
    rescore_run,
    resumed_suite,
    run_bfcl,
)
from glmbench.api.interrupted import RunInterrupted
from glmbench.api.launch import Launch, PreparedLaunch, prepare, resolve_config
from glmbench.api.load_run import LoadResult, run_load
from glmbench.api.manifest import build_manifest
from glmbench.api.on_ray import RayOptions
from glmbench.api.options import RunOptions
from glmbench.api.progress import Progress
from glmbench.api.serving import serve

__all__ = [
    "BFCLResult", "Launch", "LoadResult", "PreparedLaunch", "Progress", "RayOptions", "RunInterrupted", "RunOptions",
    "build_manifest", "is_bfcl_suite", "load_bfcl_suite", "prepare", "rescore_run", "resolve_config", "resumed_suite",
    "run_bfcl", "run_load", "serve",
]
