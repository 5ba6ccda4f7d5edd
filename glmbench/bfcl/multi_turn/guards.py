"""Calls of BFCL's classes that would run without bound, refused before they run, with the class's own error shape.

Why refusal and not a worker process: the executor's time limit (a ``SIGALRM``
timer, see :mod:`glmbench.bfcl.multi_turn.execute`) stops Python code between
two bytecodes, but not one long step inside C: ``Decimal.sqrt`` at a precision
of 10^7 runs for minutes, ``10 ** 10**9`` fills memory, and in a run either
blocks the event loop. Killing a worker process would stop them, but the
instances an entry's calls change live in this process (the checker compares
them attribute by attribute, the conversation keeps them across turns, and the
classes come from a private copy of BFCL's modules that pickle cannot name), so
a worker would have to own and ship every entry's state, and one killed on a
timeout would take the other entries' state with it. So the work a call can do
is bounded before it starts:

- the call's arguments are bounded first (:mod:`glmbench.glm.limits`: depth,
  values, text, integer size), which bounds everything linear in them;
- the few methods whose work grows faster than their arguments and the
  instance's state (a precision, an exponent, a multiplier, an id loop with no
  way out) are refused above a bound that no call of BFCL's data or a sensible
  model comes near, listed in :data:`GUARDS`;
- every other public method of the eight classes is listed in
  :data:`UNGUARDED`, having been read and found to do work in proportion to its
  arguments and the instance's state (a sort, a search, a walk of the file
  tree); a test checks that the two lists cover exactly the public methods of
  BFCL's classes, so a new version of the wheel fails until its methods are read.

A refused call runs nothing and changes nothing, and gets the error its class
gives for bad input: MathAPI and MessageAPI return ``{"error": ...}`` (shown as
its JSON), TravelAPI's ``get_flight_cost`` and ``compute_exchange_rate`` raise
``ValueError`` (shown as ``Error during execution: ...``). Below the bounds a
call runs exactly as before, so its result is BFCL's.

Bounds: :data:`MAX_DIGITS` (10,000) digits of precision, of an integer power's
result, of an integer rounded to the left of its point (a square root to
10,000 digits takes 30 ms; a result past 4,300 digits cannot be printed by
Python anyway, so BFCL's own result would be an error); :data:`MAX_RESULT_CHARS`
(1 MiB) for a result built by repeating an argument. BFCL's calls use
precisions of 2 to 10 and dates of 10 characters.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from glmbench.glm.limits import text_size

__all__ = ["MAX_DIGITS", "MAX_RESULT_CHARS", "GUARDS", "UNGUARDED", "Refusal", "refusal"]

MAX_DIGITS = 10_000
MAX_RESULT_CHARS = 1 << 20

_REFUSED = "glmbench did not run this call: "


@dataclass(frozen=True)
class Refusal:
    """Why a call is refused, and how its class reports bad input: a returned ``{"error": ...}`` or a raise."""

    reason: str
    shape: Literal["dict", "raise"]


# A guard gets the bound instance and the call's arguments by parameter name (defaults applied);
# it returns why the call would run without bound, or None.
Guard = Callable[[Any, Mapping[str, Any]], str | None]


def _int_like(value: Any) -> int | None:
    """``int(value)`` for plain data, as mpmath takes a precision; None where int() would raise."""
    if isinstance(value, (int, float, str)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            return None
    return None


# -- MathAPI --------------------------------------------------------------------------------

def _logarithm(instance: Any, args: Mapping[str, Any]) -> str | None:
    digits = _int_like(args.get("precision"))  # mpmath.mp.dps = precision takes int(precision)
    if digits is not None and digits > MAX_DIGITS:
        return f"{_REFUSED}precision {digits:,} is over {MAX_DIGITS:,} digits"
    return None


def _square_root(instance: Any, args: Mapping[str, Any]) -> str | None:
    # Any, not "Any | None": a missing or non-numeric number is compared anyway, and the
    # TypeError below is the branch that handles it.
    number: Any = args.get("number")
    precision = args.get("precision")
    try:
        if number < 0:  # checked first by the method, which then returns its own error
            return None
    except TypeError:
        return None  # the method returns its "must be a number" error before any work
    if isinstance(precision, int) and precision > MAX_DIGITS:  # decimal takes only an int precision
        return f"{_REFUSED}precision {precision:,} is over {MAX_DIGITS:,} digits"
    return None


def _power(instance: Any, args: Mapping[str, Any]) -> str | None:
    base, exponent = args.get("base"), args.get("exponent")
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 0 or abs(base) <= 1:
        return None  # floats, negative exponents and bases 0, 1, -1 cost a few steps
    # |base| >= 2, so the result has at least 0.3 digits per unit of exponent.
    if exponent > 4 * MAX_DIGITS or exponent * math.log10(abs(base)) > MAX_DIGITS:
        return f"{_REFUSED}the result of base ** exponent would have more than {MAX_DIGITS:,} digits"
    return None


def _round_number(instance: Any, args: Mapping[str, Any]) -> str | None:
    number, places = args.get("number"), args.get("decimal_places")
    # An integer rounded to -n places computes 10 ** n; floats and n >= 0 cost a few steps.
    if isinstance(number, int) and isinstance(places, int) and places < -MAX_DIGITS:
        return f"{_REFUSED}decimal_places {places:,} is more than {MAX_DIGITS:,} places to the left of the point"
    return None


# -- MessageAPI -----------------------------------------------------------------------------

_MESSAGE_IDS = range(10000, 100000)  # MessageAPI._generate_id draws randint(10000, 99999) until one is free


def _send_message(instance: Any, args: Mapping[str, Any]) -> str | None:
    receiver_id = args.get("receiver_id")
    try:
        if not instance.current_user or receiver_id not in instance.user_map.values():
            return None  # the method returns its own error before drawing an id
        ids = instance.generated_ids
        if len(ids) < len(_MESSAGE_IDS):
            return None  # an id is free: the draw ends
        taken = ids if isinstance(ids, (set, frozenset, dict)) else set(ids)
    except (AttributeError, TypeError):
        return None  # the method fails the same way, quickly
    if all(i in taken for i in _MESSAGE_IDS):
        return f"{_REFUSED}every message id ({_MESSAGE_IDS.start}-{_MESSAGE_IDS.stop - 1}) is taken, " \
               "so drawing a new one would never end"
    return None


# -- TravelAPI --------------------------------------------------------------------------------

_ROUTES = 160  # get_flight_cost's route table: in long context, one line per route, each holding the date
_MAX_RATE = 110  # compute_exchange_rate's largest rate (USD to JPY), by which it multiplies the value


def _get_flight_cost(instance: Any, args: Mapping[str, Any]) -> str | None:
    date = args.get("travel_date")
    if getattr(instance, "long_context", False) is True and isinstance(date, str) \
            and args.get("travel_class") in ("economy", "business", "first") \
            and len(date) * _ROUTES > MAX_RESULT_CHARS:
        return f"{_REFUSED}a travel_date of {len(date):,} characters, repeated for each of {_ROUTES} routes, " \
               f"would make a result over {text_size(MAX_RESULT_CHARS)}"
    return None


def _compute_exchange_rate(instance: Any, args: Mapping[str, Any]) -> str | None:
    value = args.get("value")
    # From USD the method returns value * rate: a string or list value is repeated rate times.
    if args.get("base_currency") == "USD" and isinstance(value, (str, bytes, list, tuple)) \
            and len(value) * _MAX_RATE > MAX_RESULT_CHARS:
        return f"{_REFUSED}a value of length {len(value):,}, repeated by the rate, " \
               f"would make a result over {text_size(MAX_RESULT_CHARS)}"
    return None


GUARDS: dict[tuple[str, str], tuple[Guard, Literal["dict", "raise"]]] = {
    ("MathAPI", "logarithm"): (_logarithm, "dict"),
    ("MathAPI", "square_root"): (_square_root, "dict"),
    ("MathAPI", "power"): (_power, "dict"),
    ("MathAPI", "round_number"): (_round_number, "dict"),
    ("MessageAPI", "send_message"): (_send_message, "dict"),
    ("TravelAPI", "get_flight_cost"): (_get_flight_cost, "raise"),
    ("TravelAPI", "compute_exchange_rate"): (_compute_exchange_rate, "raise"),
}
"""(class, method) -> (guard, how the class reports bad input)."""

UNGUARDED: dict[str, frozenset[str]] = {
    # Work linear in the arguments and the file tree (find and du recurse over the tree, and stop at
    # Python's recursion limit like any deep recursion: an error result).
    "GorillaFileSystem": frozenset({
        "cat", "cd", "cp", "diff", "du", "echo", "find", "grep", "ls", "mkdir", "mv", "pwd", "rm", "rmdir",
        "sort", "tail", "touch", "wc"}),
    # Arithmetic on bounded numbers (multiply takes only int and float), sums and extremes of a list.
    "MathAPI": frozenset({
        "absolute_value", "add", "divide", "imperial_si_conversion", "max_value", "mean", "min_value",
        "multiply", "percentage", "si_unit_conversion", "standard_deviation", "subtract", "sum_values"}),
    "MessageAPI": frozenset({
        "add_contact", "delete_message", "get_message_stats", "get_user_id", "list_users", "message_get_login_status",
        "message_login", "search_messages", "view_messages_sent"}),
    "TwitterAPI": frozenset({
        "authenticate_twitter", "comment", "follow_user", "get_tweet", "get_tweet_comments", "get_user_stats",
        "get_user_tweets", "list_all_following", "mention", "post_tweet", "posting_get_login_status", "retweet",
        "search_tweets", "unfollow_user"}),
    "TicketAPI": frozenset({
        "close_ticket", "create_ticket", "edit_ticket", "get_ticket", "get_user_tickets", "logout",
        "resolve_ticket", "ticket_get_login_status", "ticket_login"}),
    "TradingBot": frozenset({
        "add_to_watchlist", "cancel_order", "filter_stocks_by_price", "fund_account", "get_account_info",
        "get_available_stocks", "get_current_time", "get_order_details", "get_order_history", "get_stock_info",
        "get_symbol_by_name", "get_transaction_history", "get_watchlist", "make_transaction",
        "notify_price_change", "place_order", "remove_stock_from_watchlist", "trading_get_login_status",
        "trading_login", "trading_logout", "update_market_status", "update_stock_price"}),
    "TravelAPI": frozenset({
        "authenticate_travel", "book_flight", "cancel_booking", "contact_customer_support", "get_all_credit_cards",
        "get_budget_fiscal_year", "get_credit_card_balance", "get_nearest_airport_by_city", "list_all_airports",
        "purchase_insurance", "register_credit_card", "retrieve_invoice", "set_budget_limit",
        "travel_get_login_status", "verify_traveler_information"}),
    "VehicleControlAPI": frozenset({
        "activateParkingBrake", "adjustClimateControl", "check_tire_pressure", "displayCarStatus", "display_log",
        "estimate_distance", "estimate_drive_feasibility_by_mileage", "fillFuelTank", "find_nearest_tire_shop",
        "gallon_to_liter", "get_current_speed", "get_outside_temperature_from_google",
        "get_outside_temperature_from_weather_com", "get_zipcode_based_on_city", "liter_to_gallon", "lockDoors",
        "pressBrakePedal", "releaseBrakePedal", "setCruiseControl", "setHeadlights", "set_navigation",
        "startEngine"}),
}
"""Class -> its public methods that need no guard (read, and found to work in proportion to arguments and state)."""


def refusal(class_name: str, method: Callable[..., Any], args: tuple[Any, ...],
            kwargs: Mapping[str, Any]) -> Refusal | None:
    """Why the call ``method(*args, **kwargs)`` of ``class_name`` is refused, or None to run it.

    Arguments that do not bind to the method's parameters are left to the call
    itself, which raises the same ``TypeError`` it always has.
    """
    entry = GUARDS.get((class_name, getattr(method, "__name__", "")))
    if entry is None:
        return None
    guard, shape = entry
    try:
        bound = inspect.signature(method).bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    why = guard(getattr(method, "__self__", None), bound.arguments)
    return Refusal(why, shape) if why else None
