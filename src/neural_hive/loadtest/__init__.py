"""Load, chaos and bad-input tests of a deployed Neural Hive-Mind, and their reports."""
