"""Platform facts derived from the spec: names, policy documents, SCPs, product view models,
the stack manifest and the governance assets. Pure functions; no cdktf, no AWS.
"""
