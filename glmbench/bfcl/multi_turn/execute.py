"""Running a model's call in an entry's environment, safely, with BFCL's result strings.

BFCL rewrites a call string into ``instance.method(...)`` and ``eval``s it. Here
nothing the model wrote is evaluated: a call string is parsed with :mod:`ast` and
must be one call of a bare name, ``name(...)``, whose arguments (positional or
keyword, no ``*``/``**``) are each a literal that :func:`ast.literal_eval` accepts
(strings, numbers, a negative number, booleans, None, and lists, tuples, dicts
and sets of those). A name, attribute, call, subscript, comprehension, f-string
or operator other than a sign is refused before anything runs, and so is a call
string longer than :data:`~glmbench.glm.limits.MAX_LITERAL_TEXT_CHARS` (the
parser's memory grows some 500-fold with the text). A call given as
``(name, arguments)`` or a :class:`~glmbench.bfcl.types.Call` (already decoded,
say from JSON tool-call arguments) must hold plain data of the same kinds.
Either way the arguments must be within the bounds of
:mod:`glmbench.glm.limits` (nesting, number of values, text, integer size),
checked with a loop before anything else looks at them (``repr``, copying,
the method), so no argument value makes :func:`execute_call` raise.

The name must be a public method of one of the entry's involved instances (BFCL's
map, :attr:`Environment.methods`): never a ``_`` name, never a plain attribute,
never a method of a class the entry does not involve. A call that is refused gets
an ``Error during execution: <reason>`` result, as a call that raises does, runs
nothing and changes nothing.

Results are formatted exactly as BFCL formats them, since the checker compares
them as strings: a ``str`` as it is, a ``dict`` (exactly) through
:func:`json.dumps` (``str`` when that fails, as for MathAPI's ``mpf`` and
``Decimal`` results), anything else (lists, None, numbers) through ``str``; an
exception becomes ``Error during execution: {exception}``.

Bounds in time and memory. A call whose arguments would make the method's
work unbounded (a precision of 10^7 digits, a huge integer power, a string
repeated past 1 MiB, an id draw that can never end) is refused before it runs
by :mod:`glmbench.bfcl.multi_turn.guards`, which covers every public method of
BFCL's eight classes and says why this is done by refusal rather than in a
worker process; the refusal is the error its class gives for bad input and the
call's status is ``refused``. Every other call does work in proportion to its
bounded arguments and the instances' state, and runs exactly as before.

Time limit, for what the guards cannot foresee: in the main thread a
``SIGALRM`` timer (:func:`signal.setitimer`) interrupts an overrunning call
between two Python bytecodes and the call's result is an error; in any other
thread (or when another ``ITIMER_REAL`` timer is running) the call runs on a
helper thread that is waited for, and one that overruns is left behind and
marks the environment ``broken``, refusing any further call there. Neither can
stop a single long step inside C code, which is why the guards exist. The
checker replays a trajectory on fresh instances, so a call that timed out in a
run can run again there: no longer than the same limit. Each call runs in its
own :func:`decimal.localcontext` and mpmath's precision is put back afterwards,
as MathAPI sets both globally.
"""

from __future__ import annotations

import ast
import copy
import decimal
import json
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from glmbench.bfcl.multi_turn.environment import Environment
from glmbench.bfcl.multi_turn.guards import refusal
from glmbench.bfcl.types import Call, short_repr
from glmbench.glm.limits import MAX_LITERAL_TEXT_CHARS, text_size, value_problem

__all__ = [
    "ERROR_PREFIX", "DEFAULT_TIME_LIMIT_S", "CallLike", "Execution", "InvalidCall", "ParsedCall",
    "parse_call", "execute_call", "execute_calls", "format_result", "render_call",
]

ERROR_PREFIX = "Error during execution: "
DEFAULT_TIME_LIMIT_S = 5.0

# A call as the executor takes it: BFCL's call string, a decoded Call, or (name, arguments).
CallLike = str | Call | tuple[str, Mapping[str, Any]]

Status = Literal["ok", "error", "invalid", "refused", "timeout"]


class InvalidCall(ValueError):
    """A call that is refused before anything runs; the message says why."""


@dataclass(frozen=True)
class ParsedCall:
    """A call reduced to its parts: the function name, positional and keyword argument values."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Execution:
    """One call's outcome.

    ``call`` is the call as text (as given, or rendered as BFCL renders a decoded
    call); ``result`` what the model is shown and the checker compares;
    ``status`` is ``ok``, ``error`` (the method raised), ``invalid`` (not a
    valid call: nothing ran), ``refused`` (its arguments would make the method
    run without bound: nothing ran, the result is its class's error) or
    ``timeout``; ``name`` the function name when it parsed.
    """

    call: str
    result: str
    status: Status
    name: str | None = None


# -- parsing ------------------------------------------------------------------------

def parse_call(text: str) -> ParsedCall:
    """``name(arg, key=value, ...)`` with literal arguments only; :class:`InvalidCall` otherwise."""
    if not isinstance(text, str):
        raise InvalidCall(f"a call must be a string, not {type(text).__name__}")
    if len(text) > MAX_LITERAL_TEXT_CHARS:
        raise InvalidCall(f"call text over {text_size(MAX_LITERAL_TEXT_CHARS)} ({len(text):,} characters): not parsed")
    try:
        source = text.strip()
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        why = getattr(exc, "msg", None) or _text(exc) or type(exc).__name__  # MemoryError() says nothing
        raise InvalidCall(f"not a call: {why}") from None
    node = tree.body
    if not isinstance(node, ast.Call):
        raise InvalidCall(f"not a call: a {type(node).__name__} expression")
    if not isinstance(node.func, ast.Name):
        raise InvalidCall(f"the function must be a plain name, not a {type(node.func).__name__} expression")
    args = []
    for position, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise InvalidCall("*arguments are not allowed")
        args.append(_literal(arg, f"positional argument {position}", source))
    kwargs: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise InvalidCall("**arguments are not allowed")
        if keyword.arg in kwargs:
            raise InvalidCall(f"argument {keyword.arg!r} given twice")
        kwargs[keyword.arg] = _literal(keyword.value, f"argument {keyword.arg!r}", source)
    return ParsedCall(node.func.id, tuple(args), kwargs)


def _literal(node: ast.expr, what: str, source: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        # The node's own text, cut from the source: ast.unparse would recurse as deep as the node nests.
        source = ast.get_source_segment(source, node) or ""
        shown = source if len(source) <= 60 else source[:57] + "..."
        raise InvalidCall(f"{what} is not a literal value: {shown}") from None


_PLAIN_SCALARS = (str, int, float, complex, bool, type(None), bytes)
_PLAIN_CONTAINERS = (list, tuple, set, frozenset)


def _check_plain(value: Any, what: str) -> None:
    """Arguments must be within the bounds (checked first) and data of the kinds a literal can spell,
    nothing callable or custom; both checks are loops, so no value can exhaust the stack."""
    problem = value_problem(value, what)
    if problem:
        raise InvalidCall(problem)
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _PLAIN_SCALARS:
            continue
        if kind in _PLAIN_CONTAINERS:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            raise InvalidCall(f"{what} is not plain data: a {kind.__name__}")


def render_call(name: str, arguments: Mapping[str, Any]) -> str:
    """A decoded call as BFCL writes it for execution: ``name(k=repr(v),...)``."""
    return f"{name}({','.join(f'{k}={v!r}' for k, v in arguments.items())})"


def _parsed(call: CallLike) -> tuple[str, ParsedCall]:
    """The call's text and its parts; :class:`InvalidCall` when it is refused."""
    if isinstance(call, str):
        parsed = parse_call(call)
        for position, value in enumerate(parsed.args):
            _check_plain(value, f"positional argument {position}")
        for key, value in (parsed.kwargs or {}).items():
            _check_plain(value, f"argument {key!r}")
        return call, parsed
    arguments: Mapping[str, Any]  # a Call's dict or a tuple's mapping; copied into a dict below
    if isinstance(call, Call):
        if call.refused:
            raise InvalidCall(f"its arguments were not decoded: {call.refused}")
        name, arguments = call.name, call.arguments
    elif isinstance(call, tuple) and len(call) == 2:
        name, arguments = call
    else:
        raise InvalidCall(f"not a call: {type(call).__name__}")
    if not isinstance(name, str) or not isinstance(arguments, Mapping):
        raise InvalidCall("a decoded call is a name and a mapping of arguments")
    if not name.isidentifier():
        raise InvalidCall(f"not a function name: {short_repr(name, 60)}")
    arguments = dict(arguments)
    for key, value in arguments.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise InvalidCall(f"not an argument name: {short_repr(key, 60)}")
        _check_plain(value, f"argument {key!r}")
    # Only now, bounded and plain, may the values be written out and copied (both recurse). A copy, as
    # BFCL's eval of the call's text makes fresh values: a method that keeps or changes a list it is
    # given (TwitterAPI's mentions) must not reach the caller's record of the call.
    return render_call(name, arguments), ParsedCall(name, (), copy.deepcopy(arguments))


def _shown(call: Any) -> str:
    """A refused call as text for its record, cut short: it may be any size or shape."""
    if isinstance(call, str):
        return call
    name = call.name if isinstance(call, Call) else call[0] if isinstance(call, tuple) and call else None
    return f"{name}(...)" if isinstance(name, str) and len(name) <= 200 else f"<a refused {type(call).__name__}>"


def _method(env: Environment, name: str) -> Callable[..., Any]:
    if name.startswith("_"):
        raise InvalidCall(f"{name!r} is private: only public methods can be called")
    method = env.method(name)
    if method is not None:
        return method
    involved = ", ".join(env.instances) or "none"
    owner = env.owner_elsewhere(name)
    if owner is not None:
        raise InvalidCall(f"{name!r} belongs to {owner}, which this entry does not involve (involved: {involved})")
    raise InvalidCall(f"no function named {name!r} in the involved classes ({involved})")


# -- running ----------------------------------------------------------------------------

def format_result(value: Any) -> str:
    """A method's return value as BFCL records it (see the module docstring)."""
    if type(value) is str:
        return value
    if type(value) is dict:
        try:
            return json.dumps(value)
        except Exception:  # mpf, Decimal and other values json cannot write
            return str(value)
    return str(value)


class _Overran(BaseException):
    """Raised by the alarm; a BaseException so that BFCL's ``except Exception`` blocks let it through."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Overran


def _guarded(method: Callable[..., Any], parsed: ParsedCall) -> tuple[Status, str]:
    """Call and format, in a private decimal context, mpmath's precision put back after."""
    mpmath = sys.modules.get("mpmath")
    prec = mpmath.mp.prec if mpmath is not None else None
    try:
        with decimal.localcontext():
            try:
                return "ok", format_result(method(*parsed.args, **(parsed.kwargs or {})))
            except Exception as exc:
                return "error", ERROR_PREFIX + _text(exc)
    finally:
        if mpmath is not None and prec is not None:
            mpmath.mp.prec = prec


def _text(exc: BaseException) -> str:
    """``str(exc)``, as BFCL writes a method's exception (even when empty)."""
    try:
        return str(exc)
    except Exception:
        return type(exc).__name__


def _run_with_alarm(method: Callable[..., Any], parsed: ParsedCall, limit: float) -> tuple[Status, str]:
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                return _guarded(method, parsed)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
    except _Overran:
        return "timeout", ERROR_PREFIX + f"the call ran past its time limit of {limit:g} s and was stopped"


def _run_on_thread(env: Environment, method: Callable[..., Any], parsed: ParsedCall,
                   limit: float) -> tuple[Status, str]:
    box: list[tuple[Status, str]] = []
    worker = threading.Thread(target=lambda: box.append(_guarded(method, parsed)), daemon=True,
                              name=f"bfcl-call-{parsed.name}")
    worker.start()
    worker.join(limit)
    if box:
        return box[0]
    env.broken = f"a call to {parsed.name} ran past its time limit of {limit:g} s and may still be running"
    return "timeout", ERROR_PREFIX + env.broken


def _can_use_alarm() -> bool:
    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


def execute_call(env: Environment, call: CallLike, time_limit_s: float | None = DEFAULT_TIME_LIMIT_S) -> Execution:
    """Run one call in ``env``; never raises for anything about the call (see the module docstring)."""
    try:
        text, parsed = _parsed(call)
    except InvalidCall as exc:
        return Execution(_shown(call), ERROR_PREFIX + str(exc), "invalid")
    if env.broken:
        return Execution(text, ERROR_PREFIX + f"not run: {env.broken}", "invalid", parsed.name)
    try:
        method = _method(env, parsed.name)
    except InvalidCall as exc:
        return Execution(text, ERROR_PREFIX + str(exc), "invalid", parsed.name)
    refused = refusal(env.methods.get(parsed.name, ""), method, parsed.args, parsed.kwargs or {})
    if refused is not None:
        result = format_result({"error": refused.reason}) if refused.shape == "dict" else ERROR_PREFIX + refused.reason
        return Execution(text, result, "refused", parsed.name)
    if time_limit_s is None:
        status, result = _guarded(method, parsed)
    elif _can_use_alarm():
        status, result = _run_with_alarm(method, parsed, time_limit_s)
    else:
        status, result = _run_on_thread(env, method, parsed, time_limit_s)
    return Execution(text, result, status, parsed.name)


def execute_calls(env: Environment, calls: Sequence[CallLike],
                  time_limit_s: float | None = DEFAULT_TIME_LIMIT_S) -> list[Execution]:
    """Run ``calls`` in order in ``env`` (one model step), one :class:`Execution` each."""
    return [execute_call(env, call, time_limit_s) for call in calls]
