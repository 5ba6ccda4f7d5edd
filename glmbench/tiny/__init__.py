"""The tiny GLM-4.7-Flash: a random-weight model at toy size (``model``) and its GLM-shaped tokenizer (``tokenizer``).

Nothing is imported here: both modules need the ``glmbench[model]`` extras only
when they build something, and callers import the module they use.
"""
