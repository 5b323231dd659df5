"""Neural Hive-Mind services."""

__version__ = "0.1.0"
