"""Synthesis: cdktf stacks (in process or over worker processes), the lazy provider import,
and writing or checking the generated tree.
"""
