"""Every IAM document mlgov writes, as a pure function of the validated spec.

Identity, trust, resource, key, bucket, bus, queue, topic and repository policies are built
here from spec values and names from `mlgov.platform.naming`; the constructs in
`mlgov.modules` only attach them to resources. Action sets come from one table
(`actions`), ARNs from one builder (`arns`), so `validate` can list and size every policy
without cdktf.
"""
