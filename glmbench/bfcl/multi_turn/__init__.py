"""BFCL v3 multi-turn: BFCL's simulated APIs as the environment, a safe executor, BFCL's checker.

- :mod:`~glmbench.bfcl.multi_turn.environment`: the eight classes from the cached
  wheel, one fresh set of instances per entry;
- :mod:`~glmbench.bfcl.multi_turn.execute`: a model's call parsed as a literal
  call and run on the right instance, with BFCL's result strings;
- :mod:`~glmbench.bfcl.multi_turn.checker`: BFCL's state and response checks over
  a recorded trajectory.
"""

from glmbench.bfcl.multi_turn.checker import (
    ERROR_TYPES,
    MultiTurnVerdict,
    Step,
    Trajectory,
    Turn,
    check_multi_turn,
    check_trajectory,
    drop_empty_steps,
)
from glmbench.bfcl.multi_turn.environment import (
    BFCLModules,
    Environment,
    Scenario,
    new_environment,
)
from glmbench.bfcl.multi_turn.execute import (
    ERROR_PREFIX,
    CallLike,
    Execution,
    InvalidCall,
    execute_call,
    execute_calls,
    format_result,
    parse_call,
)

__all__ = [
    "ERROR_TYPES", "MultiTurnVerdict", "Step", "Trajectory", "Turn", "check_multi_turn", "check_trajectory",
    "drop_empty_steps", "BFCLModules", "Environment", "Scenario", "new_environment", "ERROR_PREFIX", "CallLike",
    "Execution", "InvalidCall", "execute_call", "execute_calls", "format_result", "parse_call",
]
