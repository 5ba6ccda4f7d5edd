"""A new BFCL category: one row of the category table, ``glmbench/bfcl/categories.py``.

The row holds every trait of the category that glmbench uses; the data loader,
the checkers, the scoring and the reports read them from the table. Add it to
``_ROWS`` there and put its questions and answers, in BFCL's layout, beside
BFCL's own files (``BFCL_v3_simple_units.json`` and
``possible_answer/BFCL_v3_simple_units.json`` under ``--data-dir``).

This one is a made-up set of single calls in Python, judged as ``simple`` is
(``expects="one_call"``: one call, to the first function). It sits in no group
of BFCL's v3 summary, so BFCL's official non-live and overall figures stay as
BFCL defines them, and it is no row of the published table.
"""

from __future__ import annotations

from glmbench.bfcl.categories import Category

__all__ = ["SIMPLE_UNITS"]

SIMPLE_UNITS = Category(
    name="simple_units",
    entries=20,
    language="python",
    live=False,
    expects="one_call",
    group=None,
)
