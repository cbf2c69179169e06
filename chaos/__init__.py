"""Fault scenarios run on one machine: `make chaos` (docs/operations.md, "Chaos figures")."""
