"""The org spec: its pydantic models, YAML loading with line numbers, and in-place edits.

The lowest layer: it imports nothing of mlgov but :mod:`mlgov.errors`.
"""
