"""Every IAM policy document of a generated tree on disk, made concrete enough to validate.

``collect(generated)`` reads ``stacks/*/cdk.tf.json`` (Terraform JSON), ``products/**/*.yaml``
(CloudFormation) and the bootstrap (``bootstrap/terraform/cdk.tf.json`` and
``bootstrap/cloudformation/*.yaml``: the Terraform and plan roles' trusts, the plan role's
policy, the state bucket's and key's policies, docs/day-zero.md) and returns ``(id, kind, document)`` for each policy:
identity (role inline policies, managed policies), trust (assume-role), scp, rcp and resource
(key, bucket, queue, bus, model package group policies, Lambda permissions). References are
replaced by values of the right shape, since validators and simulators need ARNs, not
``${aws_kms_key.models.arn}`` or ``Fn::GetAtt``: Terraform references become the ARN or name
of the referenced resource in that stack's account and region; CloudFormation pseudo
parameters, parameters (their Default, else a value fitting the type and pattern), Ref,
GetAtt, Sub, If, FindInMap, Join, Select and Split are evaluated. IAM policy variables such
as ``${aws:username}`` are kept: they are part of the policy.

Reads files only; imports nothing of mlgov, so it can review any generated tree.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

ACCOUNT = "123456789012"  # stands for the account a product is launched in
DEFAULT_REGION = "us-east-1"
PARTITION = "aws"
# An IAM policy variable (``${aws:username}``, ``${s3:prefix}``) or its escapes ``${*}``.
IAM_VARIABLE = re.compile(r"\$\{(?:[a-z][a-z0-9-]*:[A-Za-z][^}]*|[*?$])\}")


class Collected(NamedTuple):
    """One policy document: ``id`` says where it came from, ``kind`` what grammar it follows."""

    id: str
    kind: str
    document: dict[str, Any]


def collect(generated: Path) -> list[Collected]:
    """Policies of every stack, of every product template, then of the bootstrap, each group in file order."""
    generated = Path(generated)
    found = [p for f in sorted(generated.glob("stacks/*/cdk.tf.json")) for p in stack_policies(f, generated)]
    region = _home_region(generated)
    found += [p for f in sorted(generated.glob("products/**/*.yaml")) for p in template_policies(f, generated, region)]
    found += [
        p for f in sorted(generated.glob("bootstrap/terraform/cdk.tf.json")) for p in stack_policies(f, generated)
    ]
    found += [
        p
        for f in sorted(generated.glob("bootstrap/cloudformation/*.yaml"))
        for p in template_policies(f, generated, region)
    ]
    return found


def leftovers(document: Any) -> list[str]:
    """Unresolved references left in a document: ``${...}`` other than IAM variables, intrinsics."""
    out: list[str] = []
    if isinstance(document, dict):
        out += [k for k in document if k == "Ref" or k.startswith("Fn::")]
        for value in document.values():
            out += leftovers(value)
    elif isinstance(document, list):
        for value in document:
            out += leftovers(value)
    elif isinstance(document, str) and "${" in IAM_VARIABLE.sub("", document):
        out.append(document)
    return out


def _policy_json(value: Any) -> dict[str, Any] | None:
    """A policy document held in a JSON string (Terraform's jsonencode), else None."""
    if not isinstance(value, str) or '"Statement"' not in value:
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and "Statement" in doc else None


def _map_strings(node: Any, fn: Callable[[str], Any]) -> Any:
    if isinstance(node, dict):
        return {k: _map_strings(v, fn) for k, v in node.items()}
    if isinstance(node, list):
        return [_map_strings(v, fn) for v in node]
    return fn(node) if isinstance(node, str) else node


def _key_id(*parts: str) -> str:
    """A stable KMS-key-id-shaped value for a resource."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


# ------------------------------------------------------------------------------------ Terraform

# Resource type -> (attribute holding its name, ARN format). {name} is that name.
_TF_TYPES: dict[str, tuple[str, str]] = {
    "aws_kms_key": ("", "arn:aws:kms:{region}:{account}:key/{key_id}"),
    "aws_kms_alias": ("name", "arn:aws:kms:{region}:{account}:{name}"),
    "aws_s3_bucket": ("bucket", "arn:aws:s3:::{name}"),
    "aws_iam_role": ("name", "arn:aws:iam::{account}:role/{name}"),
    "aws_iam_policy": ("name", "arn:aws:iam::{account}:policy/{name}"),
    "aws_sqs_queue": ("name", "arn:aws:sqs:{region}:{account}:{name}"),
    "aws_sns_topic": ("name", "arn:aws:sns:{region}:{account}:{name}"),
    "aws_lambda_function": ("function_name", "arn:aws:lambda:{region}:{account}:function:{name}"),
    "aws_cloudwatch_event_bus": ("name", "arn:aws:events:{region}:{account}:event-bus/{name}"),
    "aws_cloudwatch_event_rule": ("name", "arn:aws:events:{region}:{account}:rule/{name}"),
    "aws_cloudwatch_log_group": ("name", "arn:aws:logs:{region}:{account}:log-group:{name}"),
    "aws_sagemaker_model_package_group": (
        "model_package_group_name",
        "arn:aws:sagemaker:{region}:{account}:model-package-group/{name}",
    ),
    "aws_codebuild_project": ("name", "arn:aws:codebuild:{region}:{account}:project/{name}"),
    "aws_codepipeline": ("name", "arn:aws:codepipeline:{region}:{account}:{name}"),
    # New connections carry the codeconnections service prefix and a random id.
    "aws_codestarconnections_connection": ("", "arn:aws:codeconnections:{region}:{account}:connection/{key_id}"),
}
_TF_REF = re.compile(r"\$\{([^{}]*)\}")
_TF_ADDRESS = re.compile(r"^(?:data\.)?(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)")


class StackResolver:
    """Resolves ``${type.name.attribute}`` in one stack to values of the right shape."""

    def __init__(self, name: str, doc: dict[str, Any]):
        providers = doc.get("provider", {}).get("aws") or [{}]
        provider = providers[0]
        self.name = name
        self.account = str((provider.get("allowed_account_ids") or [ACCOUNT])[0])
        self.region = str(provider.get("region", DEFAULT_REGION))
        # A resource given an aliased provider ("aws.<alias>") is in that provider's region.
        self.regions = {f"aws.{p['alias']}": str(p["region"]) for p in providers if p.get("alias") and p.get("region")}
        self.resources: dict[str, dict[str, dict[str, Any]]] = doc.get("resource", {})

    def _name(self, rtype: str, rname: str) -> str:
        attr = _TF_TYPES.get(rtype, ("name", ""))[0]
        value = self.resources.get(rtype, {}).get(rname, {}).get(attr)
        return value if isinstance(value, str) and "${" not in value else rname.replace("_", "-")

    def arn(self, rtype: str, rname: str) -> str:
        if rtype == "aws_organizations_policy":
            # Organizations' format (Service Authorization Reference, resource type "policy"):
            # global (no region), the organization's and the policy's ids, random; stand-ins here.
            kind = str(self.resources.get(rtype, {}).get(rname, {}).get("type", "SERVICE_CONTROL_POLICY"))
            org = _key_id(self.name, "organization").replace("-", "")[:10]
            policy = _key_id(self.name, rtype, rname).replace("-", "")[:8]
            return f"arn:aws:organizations::{self.account}:policy/o-{org}/{kind.lower()}/p-{policy}"
        fmt = _TF_TYPES.get(rtype, ("", ""))[1]
        if not fmt:  # aws_<service>_<thing>: a plausible ARN of that service
            service, _, thing = rtype.removeprefix("aws_").partition("_")
            fmt = f"arn:aws:{service}:{{region}}:{{account}}:{thing.replace('_', '-') or 'resource'}/{{name}}"
        return fmt.format(
            region=self.region_of(rtype, rname),
            account=self.account,
            name=self._name(rtype, rname),
            key_id=_key_id(self.name, rtype, rname),
        )

    def region_of(self, rtype: str, rname: str) -> str:
        """The region of a resource: its aliased provider's, else the stack's."""
        provider = self.resources.get(rtype, {}).get(rname, {}).get("provider")
        return self.regions.get(str(provider), self.region)

    def value(self, expression: str) -> str:
        m = _TF_ADDRESS.match(expression.strip())
        if not m:
            return "mlgov-placeholder"
        rtype, rname, attr = m.groups()
        if attr == "arn":
            return self.arn(rtype, rname)
        if rtype == "aws_kms_key" and attr in ("id", "key_id"):
            return _key_id(self.name, rtype, rname)
        if rtype == "aws_sqs_queue" and attr in ("id", "url"):
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self._name(rtype, rname)}"
        if attr == "account_id":
            return self.account
        if rtype == "aws_region":
            return self.region
        if rtype == "aws_partition":
            return PARTITION
        return self._name(rtype, rname)

    def function_arn(self, function: str) -> str:
        """The ARN of a Lambda function given by name, ARN or reference."""
        function = self.resolve(function)
        return (
            function
            if function.startswith("arn:")
            else f"arn:aws:lambda:{self.region}:{self.account}:function:{function}"
        )

    def resolve(self, text: str) -> str:
        parts = text.split("$${")  # Terraform's escape of a literal ${ (IAM policy variables)
        return "${".join(_TF_REF.sub(lambda m: self.value(m.group(1)), part) for part in parts)


def lambda_permission(attrs: dict[str, Any], arn: Callable[[str], str]) -> dict[str, Any]:
    """The function policy statement that a Lambda permission adds."""
    statement: dict[str, Any] = {
        "Sid": attrs.get("statement_id", "permission"),
        "Effect": "Allow",
        "Principal": {"Service": attrs["principal"]}
        if attrs.get("principal", "").endswith(".amazonaws.com")
        else {"AWS": attrs.get("principal", "*")},
        "Action": attrs.get("action", "lambda:InvokeFunction"),
        "Resource": arn(attrs.get("function_name", "")),
    }
    if attrs.get("source_arn"):
        statement["Condition"] = {"ArnLike": {"aws:SourceArn": attrs["source_arn"]}}
    if attrs.get("source_account"):
        statement.setdefault("Condition", {})["StringEquals"] = {"aws:SourceAccount": attrs["source_account"]}
    return {"Version": "2012-10-17", "Statement": [statement]}


# Attributes that hold a policy, when their kind is not "resource".
_TF_KINDS = {"assume_role_policy": "trust"}
_TF_IDENTITY = {"aws_iam_role_policy", "aws_iam_policy", "aws_iam_user_policy", "aws_iam_group_policy"}
_TF_SKIP = {"aws_s3_object", "aws_s3_bucket_object"}  # file contents (product templates), not policies
_ORG_KINDS = {"SERVICE_CONTROL_POLICY": "scp", "RESOURCE_CONTROL_POLICY": "rcp"}


def stack_policies(path: Path, generated: Path) -> Iterator[Collected]:
    """The policies of one ``cdk.tf.json``, references resolved."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    stack = StackResolver(path.parent.name, doc)
    prefix = path.parent.relative_to(generated).as_posix()

    def out(address: str, kind: str, policy: dict[str, Any]) -> Collected:
        return Collected(f"{prefix}:{address}", kind, _map_strings(policy, stack.resolve))

    for rtype, items in stack.resources.items():
        if rtype in _TF_SKIP:
            continue
        for rname, attrs in items.items():
            address = f"{rtype}.{rname}"
            if rtype == "aws_lambda_permission":
                yield out(f"{address}:statement", "resource", lambda_permission(attrs, stack.function_arn))
                continue
            if rtype == "aws_organizations_policy":
                kind = _ORG_KINDS.get(attrs.get("type", "SERVICE_CONTROL_POLICY"))
                policy = _policy_json(attrs.get("content"))
                if kind and policy:
                    yield out(f"{address}:content", kind, policy)
                continue
            for attr, value in attrs.items():
                if attr == "inline_policy":
                    for block in value if isinstance(value, list) else [value]:
                        policy = _policy_json(block.get("policy"))
                        if policy:
                            yield out(f"{address}:inline_policy/{block.get('name', '')}", "identity", policy)
                    continue
                policy = _policy_json(value)
                if policy:
                    kind = "identity" if rtype in _TF_IDENTITY else _TF_KINDS.get(attr, "resource")
                    yield out(f"{address}:{attr}", kind, policy)


# ------------------------------------------------------------------------------- CloudFormation


class _CfnLoader(yaml.SafeLoader):
    """YAML loader for CloudFormation: short tags (!Sub, !Ref, !GetAtt...) become their long
    form, dates stay strings."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


def _as_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(node.value)


_CfnLoader.add_multi_constructor("!", _short_tag)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)


def load_template(path: Path) -> dict[str, Any]:
    """A CloudFormation template in YAML (or JSON), short tags in their long form."""
    return parse_template(path.read_text(encoding="utf-8"))


def parse_template(text: str) -> dict[str, Any]:
    """:func:`load_template` of a template's text."""
    doc = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 (a SafeLoader subclass)
    return doc if isinstance(doc, dict) else {}


# CloudFormation type -> (property naming the resource, ARN format, what Ref returns:
# "name", "arn" or "id"). {name} is the resource's name, {id} a key-id-shaped value.
_CFN_TYPES: dict[str, tuple[str, str, str]] = {
    "AWS::S3::Bucket": ("BucketName", "arn:aws:s3:::{name}", "name"),
    "AWS::IAM::Role": ("RoleName", "arn:aws:iam::{account}:role/{name}", "name"),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", "arn:aws:iam::{account}:policy/{name}", "arn"),
    "AWS::KMS::Key": ("", "arn:aws:kms:{region}:{account}:key/{id}", "id"),
    "AWS::KMS::Alias": ("AliasName", "arn:aws:kms:{region}:{account}:{name}", "name"),
    "AWS::Logs::LogGroup": ("LogGroupName", "arn:aws:logs:{region}:{account}:log-group:{name}:*", "name"),
    "AWS::Lambda::Function": ("FunctionName", "arn:aws:lambda:{region}:{account}:function:{name}", "name"),
    "AWS::SQS::Queue": ("QueueName", "arn:aws:sqs:{region}:{account}:{name}", "url"),
    "AWS::SNS::Topic": ("TopicName", "arn:aws:sns:{region}:{account}:{name}", "arn"),
    "AWS::SSM::Parameter": ("Name", "arn:aws:ssm:{region}:{account}:parameter/{name}", "name"),
    "AWS::SageMaker::ModelPackageGroup": (
        "ModelPackageGroupName",
        "arn:aws:sagemaker:{region}:{account}:model-package-group/{name}",
        "arn",
    ),
    "AWS::SageMaker::Domain": ("DomainName", "arn:aws:sagemaker:{region}:{account}:domain/d-{short}", "arn"),
    "AWS::SageMaker::UserProfile": (
        "UserProfileName",
        "arn:aws:sagemaker:{region}:{account}:user-profile/d-{short}/{name}",
        "arn",
    ),
    "AWS::SageMaker::Pipeline": ("PipelineName", "arn:aws:sagemaker:{region}:{account}:pipeline/{name}", "arn"),
    "AWS::EC2::SecurityGroup": ("", "arn:aws:ec2:{region}:{account}:security-group/sg-{short}", "sg"),
}
# Example values for parameters without a Default, tried against the parameter's AllowedPattern.
_CANDIDATES = ("example", "example-1", "d-example1", ACCOUNT, "ml.m5.large", "1")
_NO_VALUE = object()  # AWS::NoValue: the enclosing key or list item disappears


class _Template:
    """Evaluates CloudFormation intrinsics of one template to concrete values."""

    def __init__(self, template: dict[str, Any], stack: str, region: str, account: str = ACCOUNT):
        self.t = template
        self.stack, self.region, self.account = stack, region, account
        self.resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
        self.params = {name: self._param(spec) for name, spec in (template.get("Parameters") or {}).items()}
        self.pseudo = {
            "AWS::AccountId": account,
            "AWS::Region": region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/{_key_id(stack)}",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }

    def _param(self, spec: dict[str, Any]) -> Any:
        ptype = str(spec.get("Type", ""))
        if ptype.startswith("AWS::SSM::Parameter::Value<") and "Default" in spec:
            # The Default names an SSM parameter; the template sees the parameter's value.
            return self._ssm_value(str(spec["Default"]), ptype)
        if "Default" in spec:
            value: Any = spec["Default"]
        elif spec.get("AllowedValues"):
            value = spec["AllowedValues"][0]
        else:
            ptype = str(spec.get("Type", "String"))
            shaped = {
                "VPC::Id": "vpc-0123456789abcdef0",
                "Subnet::Id": "subnet-0123456789abcdef0",
                "SecurityGroup::Id": "sg-0123456789abcdef0",
                "KeyPair::KeyName": "example",
            }
            value = next((v for k, v in shaped.items() if k in ptype), None)
            if value is None:
                pattern = spec.get("AllowedPattern")
                value = next((c for c in _CANDIDATES if not pattern or re.fullmatch(pattern, c)), "example")
        ptype = str(spec.get("Type", ""))
        if ptype.startswith("List<") or ptype == "CommaDelimitedList":
            return value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        return str(value)

    def _ssm_value(self, name: str, ptype: str) -> Any:
        """A value shaped like what the platform writes under SSM parameter ``name``."""
        leaf = name.rstrip("/").rsplit("/", 1)[-1]
        shaped: dict[str, Any] = {
            "vpc-id": "vpc-0123456789abcdef0",
            "subnet-ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "security-group-ids": ["sg-0123456789abcdef0"],
            "model-package-groups": ["example-models"],
            "domain-id": "d-example1",
        }
        if leaf in shaped:
            value = shaped[leaf]
        elif leaf.endswith("key-arn"):
            value = f"arn:{PARTITION}:kms:{self.region}:{self.account}:key/{_key_id(name)}"
        elif leaf.endswith("bucket"):
            value = f"example-bucket-{self.account}-{self.region}"
        else:
            value = "example"
        if "List<" in ptype:
            return value if isinstance(value, list) else [value]
        return ",".join(value) if isinstance(value, list) else value

    def _name(self, logical: str) -> str:
        resource = self.resources[logical]
        prop = _CFN_TYPES.get(resource.get("Type", ""), ("",))[0]
        name = (resource.get("Properties") or {}).get(prop) if prop else None
        if name is not None:
            resolved = self.resolve(name)
            if isinstance(resolved, str):
                return resolved
        return f"{self.stack}-{logical}-{_key_id(self.stack, logical)[:8]}".lower()

    def _fields(self, logical: str) -> dict[str, str]:
        key_id = _key_id(self.stack, logical)
        return {
            "name": self._name(logical),
            "region": self.region,
            "account": self.account,
            "id": key_id,
            "short": key_id.replace("-", "")[:12],
        }

    def _arn(self, logical: str) -> str:
        rtype = self.resources[logical].get("Type", "")
        fmt = _CFN_TYPES.get(rtype, ("", "", ""))[1]
        if not fmt:
            service, thing = [*rtype.split("::"), "resource", "resource"][1:3]
            fmt = f"arn:aws:{service.lower()}:{{region}}:{{account}}:{thing.lower()}/{{name}}"
        return fmt.format(**self._fields(logical))

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name not in self.resources:
            raise ValueError(f"Ref to unknown name {name}")
        fields = self._fields(name)
        returns = _CFN_TYPES.get(self.resources[name].get("Type", ""), ("", "", "name"))[2]
        return {
            "arn": self._arn(name),
            "id": fields["id"],
            "sg": f"sg-{fields['short']}",
            "url": f"https://sqs.{self.region}.amazonaws.com/{self.account}/{fields['name']}",
        }.get(returns, fields["name"])

    def get_att(self, logical: str, attr: str) -> str:
        if attr.endswith("Arn"):
            return self._arn(logical)
        fields = self._fields(logical)
        if attr.endswith("Id"):
            return {"DomainId": f"d-{fields['short']}", "KeyId": fields["id"]}.get(attr, fields["short"])
        return fields["name"] if attr.endswith("Name") else f"{fields['name']}-{attr.lower()}"

    def _sub(self, text: str, local: dict[str, Any]) -> str:
        def one(m: re.Match[str]) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in local:
                return str(self.resolve(local[inner]))
            if "." in inner and inner.split(".", 1)[0] in self.resources:
                return self.get_att(*inner.split(".", 1))
            value = self.ref(inner)
            return ",".join(value) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^}]*)\}", one, text)

    def condition(self, name: str) -> bool:
        return bool(self.resolve((self.t.get("Conditions") or {})[name]))

    def resolve(self, node: Any) -> Any:
        """``node`` with every intrinsic function evaluated."""
        if isinstance(node, list):
            return [v for v in (self.resolve(n) for n in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            handler = _INTRINSICS.get(key)
            if handler:
                return handler(self, arg)
        return {k: v for k, v in ((k, self.resolve(n)) for k, n in node.items()) if v is not _NO_VALUE}

    def _find_in_map(self, arg: list[Any]) -> Any:
        mapping = (self.t.get("Mappings") or {})[self.resolve(arg[0])]
        top = str(self.resolve(arg[1]))
        entry = mapping.get(top) or next(iter(mapping.values()))  # a placeholder account: any entry
        return entry[self.resolve(arg[2])]


# Intrinsic function -> how it evaluates.
_INTRINSICS: dict[str, Callable[[_Template, Any], Any]] = {
    "Ref": lambda s, a: s.ref(a),
    "Fn::GetAtt": lambda s, a: s.get_att(*(a.split(".", 1) if isinstance(a, str) else s.resolve(a))),
    "Fn::Sub": lambda s, a: s._sub(a, {}) if isinstance(a, str) else s._sub(a[0], a[1] if len(a) > 1 else {}),
    "Fn::If": lambda s, a: s.resolve(a[1] if s.condition(a[0]) else a[2]),
    "Fn::Equals": lambda s, a: str(s.resolve(a[0])) == str(s.resolve(a[1])),
    "Fn::Not": lambda s, a: not s.resolve(a[0]),
    "Fn::And": lambda s, a: all(s.resolve(x) for x in a),
    "Fn::Or": lambda s, a: any(s.resolve(x) for x in a),
    "Condition": lambda s, a: s.condition(a),
    "Fn::FindInMap": lambda s, a: s._find_in_map(a),
    "Fn::Join": lambda s, a: str(a[0]).join(str(x) for x in s.resolve(a[1])),
    "Fn::Select": lambda s, a: s.resolve(a[1])[int(s.resolve(a[0]))],
    "Fn::Split": lambda s, a: str(s.resolve(a[1])).split(a[0]),
    "Fn::Base64": lambda s, a: s.resolve(a),
    "Fn::GetAZs": lambda s, a: [f"{s.region}a", f"{s.region}b"],
    "Fn::ImportValue": lambda s, a: f"imported-{s.resolve(a)}",
}


_CFN_IDENTITY = {
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
}


def _is_policy(value: Any) -> bool:
    return isinstance(value, dict) and "Statement" in value


def _raw_policies(logical: str, resource: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(id suffix, kind, unresolved document) of one resource."""
    rtype, props = resource.get("Type", ""), resource.get("Properties") or {}
    if rtype == "AWS::IAM::Role":
        if _is_policy(props.get("AssumeRolePolicyDocument")):
            yield f"{logical}:AssumeRolePolicyDocument", "trust", props["AssumeRolePolicyDocument"]
        for policy in props.get("Policies") or []:
            if isinstance(policy, dict) and _is_policy(policy.get("PolicyDocument")):
                yield f"{logical}:Policies/{policy.get('PolicyName', '')}", "identity", policy["PolicyDocument"]
        return
    held = [(prop, value) for prop, value in props.items() if _is_policy(value)]
    held += [(prop, doc) for prop, value in props.items() if (doc := _policy_json(value)) is not None]
    for prop, value in held:
        suffix = logical if len(held) == 1 else f"{logical}:{prop}"
        yield suffix, "identity" if rtype in _CFN_IDENTITY else "resource", value


def template_policies(path: Path, generated: Path, region: str | None = None) -> Iterator[Collected]:
    """The policies of one CloudFormation template, intrinsics evaluated."""
    rel = path.relative_to(generated).as_posix()
    region = region or _home_region(generated)
    yield from text_policies(path.read_text(encoding="utf-8"), rel, path.parent.name, region)


def text_policies(text: str, rel: str, product: str, region: str) -> Iterator[Collected]:
    """:func:`template_policies` of a template's text; ``rel`` prefixes the ids, ``product``
    names the stack a launch creates."""
    template = parse_template(text)
    evaluator = _Template(template, stack=f"SC-{ACCOUNT}-pp-{product}", region=region)
    for logical, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") == "AWS::Lambda::Permission":
            props = evaluator.resolve(resource.get("Properties") or {})
            attrs = {
                "statement_id": logical,
                "action": props.get("Action"),
                "principal": str(props.get("Principal")),
                "function_name": props.get("FunctionName"),
                "source_arn": props.get("SourceArn"),
                "source_account": props.get("SourceAccount"),
            }
            yield Collected(
                f"{rel}:{logical}",
                "resource",
                lambda_permission(
                    attrs,
                    lambda f: (
                        str(f)
                        if str(f).startswith("arn:")
                        else f"arn:aws:lambda:{region}:{evaluator.account}:function:{f}"
                    ),
                ),
            )
            continue
        for suffix, kind, raw in _raw_policies(logical, resource):
            yield Collected(f"{rel}:{suffix}", kind, evaluator.resolve(raw))


def _home_region(generated: Path) -> str:
    """The region most stacks deploy to (products launch there too)."""
    regions = []
    for f in sorted(generated.glob("stacks/*/cdk.tf.json")):
        provider = (json.loads(f.read_text(encoding="utf-8")).get("provider", {}).get("aws") or [{}])[0]
        regions.append(provider.get("region", DEFAULT_REGION))
    return max(set(regions), key=regions.count) if regions else DEFAULT_REGION
