"""egd — part of egd-grokking."""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("egd-grokking")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
