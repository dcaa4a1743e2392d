"""The promotion function: copies approved dev packages into the hub's central registry.

Reads ``organization``, ``governance`` (promotion sizing, log retention) and every team's
``dev_account`` and groups. Creates function ``<org>-model-promotion`` (role, log group with
retention, dead-letter queue), invoked by rule ``<org>-promote-approved-models`` on the
central bus (retry policy + dead-letter queue). Role policy:
:func:`mlgov.platform.iam.governance.promotion_statements`.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.modules.governance_common import (
    RETRY_ATTEMPTS,
    RETRY_MAX_AGE_SECONDS,
    dead_letter_queue,
    role,
)
from mlgov.modules.hub_bus import HubBus
from mlgov.modules.hub_registry import HubRegistry
from mlgov.platform import governance, naming
from mlgov.platform.iam import arns
from mlgov.platform.iam import governance as iam
from mlgov.spec.model import OrgSpec

PROMOTION_CONCURRENCY = 5  # reserved concurrent executions of the promotion function


class HubPromotion:
    """Promotion function, its role, logs, dead-letter queues and trigger, built into ``scope``
    (the governance hub; see :class:`mlgov.modules.hub_registry.HubRegistry` for why)."""

    def __init__(self, scope: Construct, *, spec: OrgSpec, region: str, registry: HubRegistry, bus: HubBus) -> None:
        hub_id = spec.accounts[spec.hub].id
        key_arn = registry.key.arn
        function_name = naming.promotion_function(spec)
        function_dlq = dead_letter_queue(
            scope,
            "promotion_function_dlq",
            name=naming.dlq(function_name),
            region=region,
            account_id=hub_id,
            sender_arn=arns.lambda_function(region, hub_id, function_name),
            sender_service=iam.LAMBDA,
        )
        promotion_role = role(
            scope,
            "model_promotion",
            name=naming.role_name(spec, "model-promotion"),
            trust=iam.promotion_trust(spec),
            description="Promotion function: reads approved dev packages, writes the central registry and artifact "
            "bucket",
            statements=iam.promotion_statements(spec, region, key_arn),
        )
        log_group = governance.promotion_log_group(spec)
        logs = named(
            CloudwatchLogGroup(
                scope,
                "log_group",
                name=log_group,
                retention_in_days=spec.governance.log_retention_days,
                kms_key_id=key_arn,
            ),
            "model_promotion",
        )
        function = named(
            LambdaFunction(
                scope,
                "function",
                function_name=function_name,
                description="mlgov: promote approved dev model packages into the central registry",
                role=ref(promotion_role, "arn"),
                runtime="python3.12",
                handler=governance.PROMOTION_HANDLER,
                filename=governance.PROMOTION_ZIP,
                source_code_hash=governance.base64_sha256(governance.promotion_zip(spec)),
                memory_size=spec.governance.promotion_memory_mb,
                timeout=spec.governance.promotion_timeout_seconds,
                ephemeral_storage={"size": 512},
                # Promotions are rare; a small cap keeps a burst of approvals from flooding the
                # registry and the artifact bucket with parallel multi-GB copies.
                reserved_concurrent_executions=PROMOTION_CONCURRENCY,
                tracing_config={"mode": "Active"},
                kms_key_arn=key_arn,  # environment variables encrypted with the hub key
                dead_letter_config={"target_arn": ref(function_dlq, "arn")},
                logging_config={"log_format": "Text", "log_group": log_group},
                environment={
                    "variables": {
                        "ARTIFACT_BUCKET": registry.artifact_bucket,
                        "ARTIFACT_KMS_KEY_ARN": key_arn,
                    }
                },
                depends_on=[logs],
            ),
            "model_promotion",
        )
        rule_name = naming.promotion_rule(spec)
        rule_arn = arns.event_rule(region, hub_id, rule_name, bus=bus.name)
        rule_dlq = dead_letter_queue(
            scope,
            "promotion_rule_dlq",
            name=naming.dlq(rule_name),
            region=region,
            account_id=hub_id,
            sender_arn=rule_arn,
            sender_service=iam.EVENTS,
        )
        rule = named(
            CloudwatchEventRule(
                scope,
                "promotion_rule",
                name=rule_name,
                event_bus_name=ref(bus.bus, "name"),
                description="Approvals forwarded from team dev accounts -> promotion function",
                # Every approval of an org-named group: one prefix, not a list that grows with the
                # teams. The bus admits only the org's forwarders; the function admits only the
                # dev accounts and groups of its sources mapping.
                event_pattern=governance.promotion_pattern(spec),
            ),
            "promote_approved_models",
        )
        named(
            CloudwatchEventTarget(
                scope,
                "promotion_target",
                rule=ref(rule, "name"),
                event_bus_name=ref(bus.bus, "name"),
                target_id="promotion-function",
                arn=ref(function, "arn"),
                dead_letter_config={"arn": ref(rule_dlq, "arn")},
                retry_policy={
                    "maximum_event_age_in_seconds": RETRY_MAX_AGE_SECONDS,
                    "maximum_retry_attempts": RETRY_ATTEMPTS,
                },
            ),
            "promote_approved_models",
        )
        named(
            LambdaPermission(
                scope,
                "promotion_permission",
                action=iam.INVOKE_FUNCTION,
                function_name=ref(function, "function_name"),
                principal=iam.EVENTS,
                source_arn=rule_arn,
                statement_id="CentralBusRule",
            ),
            "promote_approved_models",
        )
