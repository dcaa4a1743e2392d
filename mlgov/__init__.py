"""mlgov: one org spec in, a governed multi-account ML platform on AWS out.

The package holds everything that is not a cdktf construct: the spec model, naming, the
generated-tree writer, Jinja rendering, the Terraform harness and the CLI. The constructs
live in the top-level ``modules`` package.
"""

__version__ = "0.1.0"
