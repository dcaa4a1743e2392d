"""cdktf constructs: one module per account layer, plus shared building blocks.

- :mod:`modules.base` - AccountStack: backend, provider and the baseline of every account.
- :mod:`modules.blocks` - reusable constructs (KMS key, secure bucket, named addresses).
- :mod:`modules.management` - the organization's management account.
- :mod:`modules.shared_services` - the ML hub.
- :mod:`modules.dev` - one ML development account per team.
- :mod:`modules.deployment` - test and prod accounts that host endpoints.
- :mod:`modules.app` - builds the cdktf App: one stack per account and region.

Constructs never read files, environment variables or AWS: they are pure functions of the
validated :class:`mlgov.spec.OrgSpec`.
"""
