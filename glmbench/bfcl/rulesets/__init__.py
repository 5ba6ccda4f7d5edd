"""BFCL rule sets, one module each, every one defining ``RULE_SET`` (see :mod:`glmbench.bfcl.ruleset`).

:mod:`glmbench.bfcl.registry` finds them; a new rule set (BFCL v4, say) is one
new module here and touches nothing else.
"""
