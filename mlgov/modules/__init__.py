"""cdktf constructs: one module per account layer, plus shared building blocks.

- :mod:`mlgov.modules.base` - AccountStack: backend, provider and the baseline of every account.
- :mod:`mlgov.modules.blocks` - reusable constructs (KMS key, secure bucket, named addresses).
- :mod:`mlgov.modules.management` - the organization's management account.
- :mod:`mlgov.modules.hub` - the ML hub.
- :mod:`mlgov.modules.dev` - one ML development account per team.
- :mod:`mlgov.modules.stage` - test and prod accounts that host endpoints.
- :mod:`mlgov.modules.app` - builds the cdktf App: one stack per account and region.

Constructs never read files, environment variables or AWS: they are pure functions of the
validated :class:`mlgov.spec.OrgSpec`.
"""
