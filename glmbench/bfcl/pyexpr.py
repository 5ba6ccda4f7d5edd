"""A Python expression's syntax tree evaluated over plain data, calling nothing.

For reproducing what a script's ``eval`` of model text would return without
running it. Supported: literals, containers (with ``*``/``**`` unpacking),
names from a given scope, unary and binary operators, comparisons, ``and``/
``or``, conditional expressions, subscripts and comprehensions, all on plain
data (str, bytes, numbers, bool, None, list, tuple, set, dict), with caps on
the size of what arithmetic may build and on how deeply the expression nests
(:data:`MAX_DEPTH`; the evaluator recurses once per level, and a deeper
expression is :class:`Rejected`). A name in ``opaque_names`` (a module,
a function...) and any other expression (attributes, lambdas, f-strings) give
an :class:`Opaque` value, which equals nothing. Where Python would raise, this
raises an error too: :class:`Rejected`, or the error Python itself raises on
the same plain data (``TypeError``, ``ValueError``, ``ArithmeticError``...).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Collection, Mapping
from typing import Any

__all__ = ["Rejected", "Opaque", "evaluate", "MAX_ITEMS", "MAX_BITS", "MAX_DEPTH"]

MAX_ITEMS = 1_000_000   # longest string or list an operation may build, and most loop steps
MAX_BITS = 100_000      # largest integer an operation may build
MAX_DEPTH = 200         # deepest expression evaluated (Python's parser allows 200 nested brackets)

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
    ast.BitXor: operator.xor, ast.BitAnd: operator.and_, ast.MatMult: operator.matmul,
}
_UNARYOPS: dict[type, Callable[[Any], Any]] = {
    ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Invert: operator.invert, ast.Not: operator.not_,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_PLAIN = (str, bytes, int, float, complex, bool, type(None), type(...), list, tuple, set, frozenset, dict)


class Rejected(Exception):
    """Python would raise evaluating this expression (a ``NameError``, say)."""


class Opaque:
    """A value Python would compute and this evaluator does not; it equals nothing."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"<unevaluated: {self.source}>"


class _Unknown(Exception):
    """A construct whose value is not computed here: the enclosing expression becomes opaque."""


def evaluate(node: ast.AST, scope: Mapping[str, Any], opaque_names: Collection[str] = ()) -> Any:
    """The value of expression ``node`` with ``scope``'s names; names in ``opaque_names`` are opaque."""
    return _Evaluator(opaque_names).value(node, scope)


class _Evaluator:
    def __init__(self, opaque_names: Collection[str]) -> None:
        self.opaque_names = opaque_names
        self.steps = 0
        self.depth = 0

    def value(self, node: ast.AST, scope: Mapping[str, Any]) -> Any:
        return self._value(node, scope)

    def _value(self, node: ast.AST, scope: Mapping[str, Any]) -> Any:
        """The node's value; opaque when it (or a part it needs) is not computed here."""
        method = getattr(self, f"_{type(node).__name__}", None)
        if self.depth >= MAX_DEPTH:
            raise Rejected(f"expression nested deeper than {MAX_DEPTH} levels")
        self.depth += 1
        try:
            if method is None:
                raise _Unknown
            return method(node, scope)
        except _Unknown:
            self._names_resolve(node, scope)
            return Opaque(ast.unparse(node))
        finally:
            self.depth -= 1

    # -- leaves and containers ---------------------------------------------
    def _Constant(self, node: ast.Constant, scope: Mapping[str, Any]) -> Any:
        return node.value

    def _Name(self, node: ast.Name, scope: Mapping[str, Any]) -> Any:
        if node.id in scope:
            return scope[node.id]
        if node.id in self.opaque_names:
            raise _Unknown
        raise Rejected(f"name {node.id!r} is not defined")

    def _elements(self, nodes: list[ast.expr], scope: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        for element in nodes:
            if isinstance(element, ast.Starred):
                out.extend(self.iterate(self._value(element.value, scope)))
            else:
                out.append(self._value(element, scope))
        return out

    def _List(self, node: ast.List, scope: Mapping[str, Any]) -> list[Any]:
        return self._elements(node.elts, scope)

    def _Tuple(self, node: ast.Tuple, scope: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(self._elements(node.elts, scope))

    def _Set(self, node: ast.Set, scope: Mapping[str, Any]) -> set[Any]:
        return set(self._elements(node.elts, scope))

    def _Dict(self, node: ast.Dict, scope: Mapping[str, Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                out.update(self.mapping(self._value(value, scope)))
            else:
                out[self._value(key, scope)] = self._value(value, scope)
        return out

    def iterate(self, value: Any) -> list[Any]:
        if isinstance(value, (list, tuple, set, frozenset, str, bytes, dict)):
            return list(value)
        raise _Unknown if isinstance(value, Opaque) else TypeError("not iterable")

    def mapping(self, value: Any) -> dict[Any, Any]:
        if isinstance(value, dict):
            return value
        raise _Unknown if isinstance(value, Opaque) else TypeError("not a mapping")

    # -- operators ---------------------------------------------------------
    def _plain(self, *values: Any) -> None:
        if any(isinstance(v, Opaque) or not isinstance(v, _PLAIN) for v in values):
            raise _Unknown

    def _UnaryOp(self, node: ast.UnaryOp, scope: Mapping[str, Any]) -> Any:
        operand = self._value(node.operand, scope)
        self._plain(operand)
        return _UNARYOPS[type(node.op)](operand)

    def _BinOp(self, node: ast.BinOp, scope: Mapping[str, Any]) -> Any:
        left, right = self._value(node.left, scope), self._value(node.right, scope)
        self._plain(left, right)
        if _too_big(node.op, left, right):
            raise _Unknown
        return _BINOPS[type(node.op)](left, right)

    def _Compare(self, node: ast.Compare, scope: Mapping[str, Any]) -> Any:
        left = self._value(node.left, scope)
        for op, right_node in zip(node.ops, node.comparators):
            right = self._value(right_node, scope)
            self._plain(left, right)
            result = _COMPARE[type(op)](left, right)
            if not result:
                return result
            left = right
        return result

    def _BoolOp(self, node: ast.BoolOp, scope: Mapping[str, Any]) -> Any:
        result = None
        for operand in node.values:
            result = self._value(operand, scope)
            self._plain(result)
            if bool(result) is isinstance(node.op, ast.Or):
                return result
        return result

    def _IfExp(self, node: ast.IfExp, scope: Mapping[str, Any]) -> Any:
        test = self._value(node.test, scope)
        self._plain(test)
        return self._value(node.body if test else node.orelse, scope)

    def _NamedExpr(self, node: ast.NamedExpr, scope: Mapping[str, Any]) -> Any:
        return self._value(node.value, scope)

    def _Subscript(self, node: ast.Subscript, scope: Mapping[str, Any]) -> Any:
        container = self._value(node.value, scope)
        index = self._value(node.slice, scope)
        self._plain(container)
        if not isinstance(index, (int, slice)) or isinstance(index, bool):
            self._plain(index)
        return container[index]

    def _Slice(self, node: ast.Slice, scope: Mapping[str, Any]) -> slice:
        parts = [self._value(p, scope) if p is not None else None for p in (node.lower, node.upper, node.step)]
        self._plain(*parts)
        return slice(*parts)

    # -- comprehensions ----------------------------------------------------
    def _comprehension(self, node: Any, scope: Mapping[str, Any], emit: Callable[[dict[str, Any]], None]) -> None:
        def loop(i: int, local: dict[str, Any]) -> None:
            if i == len(node.generators):
                emit(local)
                return
            generator = node.generators[i]
            if generator.is_async:
                raise Rejected("async comprehension")
            for item in self.iterate(self._value(generator.iter, local)):
                self.steps += 1
                if self.steps > MAX_ITEMS:
                    raise _Unknown
                bound = dict(local)
                _assign(generator.target, item, bound)
                conditions = [self._value(c, bound) for c in generator.ifs]
                self._plain(*conditions)
                if all(conditions):
                    loop(i + 1, bound)

        loop(0, dict(scope))

    def _ListComp(self, node: ast.ListComp, scope: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        self._comprehension(node, scope, lambda local: out.append(self._value(node.elt, local)))
        return out

    def _SetComp(self, node: ast.SetComp, scope: Mapping[str, Any]) -> set[Any]:
        return set(self._ListComp(node, scope))  # type: ignore[arg-type]

    def _GeneratorExp(self, node: ast.GeneratorExp, scope: Mapping[str, Any]) -> list[Any]:
        return self._ListComp(node, scope)  # type: ignore[arg-type]

    def _DictComp(self, node: ast.DictComp, scope: Mapping[str, Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}

        def emit(local: dict[str, Any]) -> None:
            key = self._value(node.key, local)
            out[key] = self._value(node.value, local)

        self._comprehension(node, scope, emit)
        return out

    # -- opaque expressions ------------------------------------------------
    def _names_resolve(self, node: ast.AST, scope: Mapping[str, Any]) -> None:
        """Raise :class:`Rejected` when an opaque expression reads a name that is not defined."""
        if isinstance(node, ast.Lambda):
            return  # its body is not evaluated until called
        bound = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for lam in (n for n in ast.walk(node) if isinstance(n, ast.Lambda)):
            bound |= {a.arg for a in ast.walk(lam.args) if isinstance(a, ast.arg)}
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and name.id not in bound \
                    and name.id not in scope and name.id not in self.opaque_names:
                raise Rejected(f"name {name.id!r} is not defined")


def _assign(target: ast.AST, item: Any, scope: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = item
        return
    if isinstance(target, (ast.Tuple, ast.List)) and not any(isinstance(t, ast.Starred) for t in target.elts):
        if isinstance(item, Opaque) or not isinstance(item, (list, tuple, str, bytes, set, dict)):
            raise _Unknown
        values = list(item)
        if len(values) != len(target.elts):
            raise ValueError("wrong number of values to unpack")
        for sub, value in zip(target.elts, values):
            _assign(sub, value, scope)
        return
    raise _Unknown


def _too_big(op: ast.operator, left: Any, right: Any) -> bool:
    """Would this operation build a value past the caps (Python would, slowly; this stops)."""
    if isinstance(op, ast.Pow) and type(left) is int and type(right) is int:
        return right > 0 and abs(left) > 1 and right * abs(left).bit_length() > MAX_BITS
    if isinstance(op, ast.LShift) and isinstance(right, int):
        return right > MAX_BITS
    if isinstance(op, ast.Mult):
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int):
                return len(seq) * times > MAX_ITEMS
    return isinstance(op, ast.Mod) and isinstance(left, (str, bytes))  # %-formatting can pad without bound
