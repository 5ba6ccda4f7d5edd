"""BFCL v4's agentic categories: memory (kv, vector, rec_sum) with its prerequisite conversations, and web search.

- :mod:`~glmbench.bfcl.agentic.wheel`: the v4 wheel, verified; :mod:`~glmbench.bfcl.agentic.prompts`: its fixed
  prompt texts, read without running its code;
- :mod:`~glmbench.bfcl.agentic.data`: the entries and the prerequisite conversations;
- :mod:`~glmbench.bfcl.agentic.backends`: BFCL's memory and web-search classes from the wheel, one fresh copy
  per conversation, and why a category cannot run here;
- :mod:`~glmbench.bfcl.agentic.play`: the prerequisite chains, then each question, against a server;
- :mod:`~glmbench.bfcl.agentic.checker`: BFCL's agentic checker;
- :mod:`~glmbench.bfcl.agentic.book`: answer-book lines for the simulator;
- :mod:`~glmbench.bfcl.agentic.format_sensitivity`: BFCL v4's prompt-format variants and their spread,
  reported apart from the score.
"""
