"""YAML from a user's file, loaded safely: no objects built, and no alias bomb.

``yaml.safe_load`` builds no objects, but it follows aliases: ``b: &b [*a, *a, ...]``
nested nine levels ("billion laughs") is a few hundred bytes that stand for
hundreds of millions of nodes. PyYAML shares them, so the load itself is quick;
whatever walks the data next (validation, ``json.dumps``, a ``--set`` value
written out) expands them until memory runs out. :func:`load_yaml` composes the
document, counts the nodes it stands for with every alias expanded, and refuses
one whose aliases bring in more than :data:`MAX_ALIAS_NODES` nodes, or that
refers to itself, before anything is built. A file without aliases is never
refused, however long; a few anchors (``<<: *defaults``) are far below the limit.
"""

from __future__ import annotations

from typing import Any

import yaml

from glmbench.errors import GlmbenchError

__all__ = ["MAX_ALIAS_NODES", "load_yaml"]

# Nodes that aliases may add to a document beyond those written out; a hand-written file that shares a
# block of defaults among a few dozen entries stays in the hundreds.
MAX_ALIAS_NODES = 10_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_size(root: yaml.Node) -> tuple[int, int] | None:
    """(nodes with every alias expanded, distinct nodes); None for a node that contains itself.

    Each distinct node is sized once (an alias is the same node object as its anchor), so this is linear
    in the document however large its expansion.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: a deeply nested document must not exhaust Python's stack
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            continue
        if key in size:
            continue
        if key in on_path:
            return None
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                return None
            if id(child) not in size:
                stack.append((child, False))
    return size[id(root)], len(size)


def load_yaml(text: str, where: str) -> Any:
    """The YAML document in ``text`` (None when empty), read as ``yaml.safe_load`` reads it.

    Raises ``yaml.YAMLError`` for a syntax error, as ``yaml.safe_load`` does, and :class:`GlmbenchError`
    naming ``where`` (the file, or ``--set KEY``) for a document whose aliases expand too far or loop.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise GlmbenchError(f"{where}: YAML nested too deeply to read", "flatten the document") from None
        if node is None:
            return None
        sizes = _expanded_size(node)
        if sizes is None:
            raise GlmbenchError(f"{where}: a YAML alias refers to a block that contains it",
                                "write the value out instead of the recursive alias (*name)")
        expanded, written = sizes
        if expanded - written > MAX_ALIAS_NODES:
            raise GlmbenchError(f"{where}: YAML aliases expand to {expanded:,} nodes from {written:,} written "
                                f"(at most {MAX_ALIAS_NODES:,} may come from aliases); refused",
                                "write the values out, or use fewer aliases (*name) of large blocks")
        return loader.construct_document(node)
    finally:
        loader.dispose()
