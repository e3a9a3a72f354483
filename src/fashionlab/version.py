"""The package's version, in a module of its own so that any module can import it without importing
the package root (which imports the API, and so most modules: a cycle)."""

__version__ = "0.1.0"
