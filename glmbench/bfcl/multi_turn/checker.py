"""BFCL v3's multi-turn checker, as the 2025.6.8 eval runner applies it, written from its rules.

A trajectory is what the model did, per turn: a list of steps, one per model
response, each the list of calls decoded from that response (``None`` for a
response that did not decode, such as plain text). The verdict, in order:

1. A trajectory with a different number of turns than the ground truth fails as
   ``multi_turn:force_terminated`` (BFCL's harness stops an entry when a turn runs
   past its step limit). ``None`` instead of a trajectory fails as
   ``multi_turn:inference_error``.
2. Steps that are ``None``, empty, or one empty string are dropped.
3. Per turn, on fresh instances for the model and, separately, for the ground
   truth (one copy of BFCL's modules for both, as in BFCL's one process): the
   model's steps run in order, then the ground truth's calls. A turn whose ground
   truth is empty is not checked (its calls still ran and change later state);
   otherwise:

   - no step in the turn: ``multi_turn:empty_turn_model_response``;
   - state: for every involved class, every attribute of the ground-truth instance
     not starting with ``_`` must ``==`` the model instance's:
     ``multi_turn:instance_state_mismatch``;
   - response: the turn's ground-truth results must be a sub-multiset of the
     model's results of all turns so far (any order, extras allowed), compared as
     strings: ``multi_turn:execution_response_mismatch``.

   The first failure ends the check.

BFCL's irrelevance check for turns that should have no call is switched off in
that runner, so calls there are not penalised directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glmbench.bfcl.multi_turn.environment import (
    BFCLModules,
    Environment,
    Scenario,
    new_environment,
)
from glmbench.bfcl.multi_turn.execute import (
    DEFAULT_TIME_LIMIT_S,
    CallLike,
    execute_calls,
)
from glmbench.bfcl.types import Verdict, short_repr

__all__ = [
    "FORCE_TERMINATED", "INFERENCE_ERROR", "EMPTY_TURN", "STATE_MISMATCH", "RESPONSE_MISMATCH",
    "ERROR_TYPES", "Step", "Turn", "Trajectory", "MultiTurnVerdict", "drop_empty_steps", "check_multi_turn",
    "check_trajectory",
]

# BFCL's error types, as its eval runner and multi-turn checker write them.
FORCE_TERMINATED = "multi_turn:force_terminated"
INFERENCE_ERROR = "multi_turn:inference_error"
EMPTY_TURN = "multi_turn:empty_turn_model_response"
STATE_MISMATCH = "multi_turn:instance_state_mismatch"
RESPONSE_MISMATCH = "multi_turn:execution_response_mismatch"
ERROR_TYPES = (FORCE_TERMINATED, INFERENCE_ERROR, EMPTY_TURN, STATE_MISMATCH, RESPONSE_MISMATCH)

# The calls decoded from one model response; None when the response did not decode.
Step = Sequence[CallLike]
Turn = Sequence[Step | None]
Trajectory = Sequence[Turn]


@dataclass(frozen=True)
class MultiTurnVerdict(Verdict):
    """A :class:`Verdict` plus BFCL's error type, the failing turn and what differed.

    ``reason`` is ``"<error_type>: <what failed>"``; ``details`` holds, for a state
    mismatch, ``differences`` (``{class: [attribute, ...]}``), for a response
    mismatch, ``missing`` (the ground-truth results not found). ``rules`` is left
    empty: this checker serves whichever rule set applies it, which names itself.
    """

    error_type: str = ""
    turn: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def _fail(error_type: str, message: str, turn: int | None = None, **details: Any) -> MultiTurnVerdict:
    return MultiTurnVerdict(False, f"{error_type}: {message}", error_type=error_type, turn=turn, details=details)


def drop_empty_steps(trajectory: Trajectory) -> list[list[list[CallLike]]]:
    """The trajectory without the steps BFCL's runner drops: ``None``, ``[]`` and ``[""]``."""
    turns = []
    for turn in trajectory:
        steps = []
        for step in turn:
            if isinstance(step, str):
                raise TypeError("a step is a list of calls, not one string")
            if step is None or len(step) == 0 or (len(step) == 1 and step[0] == ""):
                continue
            steps.append(list(step))
        turns.append(steps)
    return turns


def check_multi_turn(trajectory: Trajectory | None, entry: Any, *, time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
                     modules: BFCLModules | None = None) -> MultiTurnVerdict:
    """BFCL's verdict on ``trajectory`` for a multi-turn ``entry`` (a loaded entry, or BFCL's own entry dict)."""
    ground_truth = entry["ground_truth"] if isinstance(entry, Mapping) else entry.ground_truth
    return check_trajectory(trajectory, ground_truth, Scenario.of(entry), time_limit_s=time_limit_s, modules=modules)


def check_trajectory(trajectory: Trajectory | None, ground_truth: Sequence[Sequence[str]], scenario: Scenario, *,
                     time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
                     modules: BFCLModules | None = None) -> MultiTurnVerdict:
    """As :func:`check_multi_turn`, from the parts: the ground truth's call strings per turn and the scenario."""
    if trajectory is None:
        return _fail(INFERENCE_ERROR, "no trajectory: inference failed")
    if len(trajectory) != len(ground_truth):
        return _fail(FORCE_TERMINATED, f"the model's trajectory has {len(trajectory)} turns, "
                                       f"the ground truth {len(ground_truth)}: inference stopped early")
    turns = drop_empty_steps(trajectory)
    modules = modules or BFCLModules(version=scenario.version)
    model, truth = new_environment(scenario, modules), new_environment(scenario, modules)
    model_results: list[str] = []  # every turn so far
    for index, (steps, expected_calls) in enumerate(zip(turns, ground_truth, strict=True)):
        for step in steps:
            model_results.extend(e.result for e in execute_calls(model, step, time_limit_s))
        expected = [e.result for e in execute_calls(truth, expected_calls, time_limit_s)]
        if not expected_calls:
            continue
        if not steps:
            return _fail(EMPTY_TURN, f"turn {index}: the model made no call", index)
        verdict = _state_check(model, truth, index) or _response_check(model_results, expected, index)
        if verdict is not None:
            return verdict
    return MultiTurnVerdict(True, "")


def _state_check(model: Environment, truth: Environment, turn: int) -> MultiTurnVerdict | None:
    """The first class whose public attributes differ, as BFCL compares them (the ground truth's attributes)."""
    for class_name, expected in truth.instances.items():
        actual = model.instances[class_name]
        differing = [name for name, value in vars(expected).items()
                     if not name.startswith("_") and getattr(actual, name) != value]
        if differing:
            first = differing[0]
            shown = (f"{first} is {short_repr(getattr(actual, first))}, "
                     f"expected {short_repr(getattr(expected, first))}")
            more = f" (and {len(differing) - 1} more attributes)" if len(differing) > 1 else ""
            return _fail(STATE_MISMATCH, f"turn {turn}: {class_name} state differs: {shown}{more}", turn,
                         differences={class_name: differing})
    return None


def _response_check(model_results: list[str], expected: list[str], turn: int) -> MultiTurnVerdict | None:
    """The ground truth's results of this turn must all be among the model's results so far (a multiset)."""
    available = Counter(model_results)
    missing = []
    for result in expected:
        if available[result] > 0:
            available[result] -= 1
        else:
            missing.append(result)
    if not missing:
        return None
    return _fail(RESPONSE_MISMATCH, f"turn {turn}: {len(missing)} of the ground truth's {len(expected)} results "
                                    f"not among the model's results so far, first {short_repr(missing[0])}",
                 turn, missing=missing)
