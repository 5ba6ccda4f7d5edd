"""glmbench: benchmark and evaluation harness for GLM-4.7-Flash across serving backends."""

__version__ = "0.1.0"
__all__ = ["__version__"]
