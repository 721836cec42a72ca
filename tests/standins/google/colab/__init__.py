"""A stand-in for Google Colab's `google.colab` package, for tests only (see tests/standins/README.md)."""

from . import output

__all__ = ["output"]
