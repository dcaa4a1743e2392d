"""Reviewing generated output: plans, summaries, graphs, security and IAM checks."""
