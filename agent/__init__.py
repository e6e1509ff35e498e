"""Photogate: an endpoint agent that catches disguised and booby-trapped images."""

__version__ = "0.1.0"
