"""The model-build SageMaker Pipeline definition (schema 2020-12-01), built from typed parts.

The model-build product embeds this definition in its ``AWS::SageMaker::Pipeline`` through
``Fn::Sub``: ``${...}`` placeholders are CloudFormation's (parameters, pseudo parameters,
``Fn::Sub`` variables), ``{"Get": ...}`` values are the pipeline's own runtime references.
One :class:`BuildPipeline` describes what differs between product versions (roles, keys,
network, where the model is registered); :func:`definition` turns it into the JSON text.
Nothing here reads the spec: the product's view model decides every value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = "2020-12-01"
# Placeholder of the MinimumAuc parameter: a Float parameter's default must be a JSON number
# once CloudFormation substitutes it, so the quotes around it are removed after serialising.
MINIMUM_AUC = "${MinimumAuc}"
PENDING = "PendingManualApproval"

Json = dict[str, Any]


@dataclass(frozen=True)
class Network:
    """VPC placement of every job, as ``Fn::Sub`` variables (``${SubnetIdList}``) that the template
    binds to its list parameter joined by ``","``: inside a JSON string they expand to the list."""

    subnets: str
    security_groups: str


@dataclass(frozen=True)
class BuildPipeline:
    """What a product version decides about its pipeline.

    Attributes:
        role_arn: role every job runs as.
        key_arn: key of the project's bucket, of job volumes and of intermediate outputs.
        bucket: ``s3://`` URI of the project's bucket (code, data, intermediate outputs).
        model_path: where training writes the model (``None``: ``<bucket>/models``).
        model_key_arn: key of the model output (``None``: ``key_arn``).
        group: model package group the Register step registers into.
        approval_parameter: expose ``ModelApprovalStatus`` as a pipeline parameter (v1 only:
            a starter could override it); otherwise the status is pinned to PendingManualApproval.
        network: VPC of every job (``None``: no VPC, v1 only).
    """

    role_arn: str
    key_arn: str
    bucket: str
    group: str
    model_path: str | None = None
    model_key_arn: str | None = None
    approval_parameter: bool = True
    network: Network | None = None


def _get(path: str) -> Json:
    return {"Get": path}


def _s3_input(name: str, local_path: str, uri: Any) -> Json:
    return {
        "InputName": name,
        "S3Input": {"LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File", "S3Uri": uri},
    }


def _s3_output(p: BuildPipeline, name: str, path: str | None = None) -> Json:
    base = path or f"{p.bucket}/runs"
    uri = {"Std:Join": {"On": "/", "Values": [base, _get("Execution.PipelineExecutionId"), name]}}
    return {
        "OutputName": name,
        "S3Output": {"LocalPath": f"/opt/ml/processing/{name}", "S3UploadMode": "EndOfJob", "S3Uri": uri},
    }


def _resources(p: BuildPipeline, instance_parameter: str) -> Json:
    return {
        "InstanceCount": 1,
        "InstanceType": _get(f"Parameters.{instance_parameter}"),
        "VolumeKmsKeyId": p.key_arn,
        "VolumeSizeInGB": 30,
    }


def _vpc(p: BuildPipeline) -> Json:
    assert p.network is not None
    return {"SecurityGroupIds": [p.network.security_groups], "Subnets": [p.network.subnets]}


def processing_step(
    p: BuildPipeline,
    name: str,
    *,
    image: str,
    script: str,
    inputs: list[Json],
    outputs: list[str],
    property_files: list[Json] | None = None,
    container_arguments: list[Any] | None = None,
    output_path: str | None = None,
    output_key_arn: str | None = None,
) -> Json:
    """A Processing step running ``script`` (uploaded under ``code/``) in ``image``; its outputs go
    to ``<output_path>/<execution id>/<output>`` (default: the project bucket's ``runs/``)."""
    app: Json = {"ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"], "ImageUri": image}
    if container_arguments:
        app["ContainerArguments"] = container_arguments
    arguments: Json = {
        "AppSpecification": app,
        "ProcessingInputs": [_s3_input("code", "/opt/ml/processing/input/code", f"{p.bucket}/code/{script}"), *inputs],
        "ProcessingOutputConfig": {
            "KmsKeyId": output_key_arn or p.key_arn,
            "Outputs": [_s3_output(p, o, output_path) for o in outputs],
        },
        "ProcessingResources": {"ClusterConfig": _resources(p, "ProcessingInstanceType")},
        "RoleArn": p.role_arn,
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    if p.network is not None:
        arguments["NetworkConfig"] = {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": False,
            "VpcConfig": _vpc(p),
        }
    step: Json = {"Name": name, "Type": "Processing", "Arguments": arguments}
    if property_files:
        step["PropertyFiles"] = property_files
    return step


XGBOOST_HYPERPARAMETERS = {"eval_metric": "auc", "num_round": "200", "objective": "binary:logistic"}


def training_step(
    p: BuildPipeline, name: str, *, image: str, channels: dict[str, Any], hyperparameters: Json | None = None
) -> Json:
    """A Training step reading CSV ``channels`` (default hyperparameters: the XGBoost algorithm's)."""
    arguments: Json = {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters or XGBOOST_HYPERPARAMETERS,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataDistributionType": "FullyReplicated",
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                    }
                },
            }
            for channel, uri in channels.items()
        ],
        "OutputDataConfig": {
            "KmsKeyId": p.model_key_arn or p.key_arn,
            "S3OutputPath": p.model_path or f"{p.bucket}/models",
        },
        "ResourceConfig": _resources(p, "TrainingInstanceType"),
        "RoleArn": p.role_arn,
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    }
    if p.network is not None:
        arguments["EnableInterContainerTrafficEncryption"] = True
        arguments["EnableNetworkIsolation"] = False
        arguments["VpcConfig"] = _vpc(p)
    return {"Name": name, "Type": "Training", "Arguments": arguments}


def register_step(
    p: BuildPipeline,
    name: str,
    *,
    image: str,
    model_data: Json,
    environment: dict[str, str] | None = None,
    extra: Json | None = None,
) -> Json:
    """A RegisterModel step into ``p.group``, awaiting the lead's approval; ``extra`` adds request
    fields (``DriftCheckBaselines``, ``ModelMetrics``)."""
    status = _get("Parameters.ModelApprovalStatus") if p.approval_parameter else PENDING
    container: Json = {"Image": image, "ModelDataUrl": model_data}
    if environment:
        container["Environment"] = environment
    return {
        "Name": name,
        "Type": "RegisterModel",
        "Arguments": {
            **(extra or {}),
            "InferenceSpecification": {
                "Containers": [container],
                "SupportedContentTypes": ["text/csv"],
                "SupportedRealtimeInferenceInstanceTypes": ["${EndpointInstanceType}"],
                "SupportedResponseMIMETypes": ["text/csv"],
                "SupportedTransformInstanceTypes": ["${TrainingInstanceType}"],
            },
            "ModelApprovalStatus": status,
            "ModelPackageGroupName": p.group,
        },
    }


def _parameters(p: BuildPipeline) -> list[Json]:
    params: list[Json] = [
        {"Name": "InputDataUri", "Type": "String", "DefaultValue": f"{p.bucket}/data/input"},
        {"Name": "ProcessingInstanceType", "Type": "String", "DefaultValue": "${ProcessingInstanceType}"},
        {"Name": "TrainingInstanceType", "Type": "String", "DefaultValue": "${TrainingInstanceType}"},
        {"Name": "MinimumAuc", "Type": "Float", "DefaultValue": MINIMUM_AUC},
    ]
    if p.approval_parameter:
        params.append({"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": PENDING})
    return params


def document(p: BuildPipeline) -> Json:
    """The definition as data: preprocess, train, evaluate, and register if AUC is high enough."""
    model_data = _get("Steps.Train.ModelArtifacts.S3ModelArtifacts")

    def split(channel: str) -> Json:
        return _get(f"Steps.Preprocess.ProcessingOutputConfig.Outputs['{channel}'].S3Output.S3Uri")

    preprocess = processing_step(
        p,
        "Preprocess",
        image="${ProcessingImageUri}",
        script="preprocess.py",
        inputs=[_s3_input("raw", "/opt/ml/processing/input/raw", _get("Parameters.InputDataUri"))],
        outputs=["train", "validation", "test"],
    )
    train = training_step(
        p, "Train", image="${TrainingImageUri}", channels={c: split(c) for c in ("train", "validation")}
    )
    evaluate = processing_step(
        p,
        "Evaluate",
        image="${TrainingImageUri}",
        script="evaluate.py",
        inputs=[
            _s3_input("model", "/opt/ml/processing/model", model_data),
            _s3_input("test", "/opt/ml/processing/test", split("test")),
        ],
        outputs=["evaluation"],
        property_files=[
            {"FilePath": "evaluation.json", "OutputName": "evaluation", "PropertyFileName": "EvaluationReport"}
        ],
    )
    check = _auc_gate(register_step(p, "Register", image="${TrainingImageUri}", model_data=model_data))
    return {
        "Version": SCHEMA_VERSION,
        "Metadata": {},
        "Parameters": _parameters(p),
        "Steps": [preprocess, train, evaluate, check],
    }


def definition(p: BuildPipeline) -> str:
    """The definition as indented JSON (sorted keys) for the template's ``Fn::Sub``."""
    text = json.dumps(document(p), indent=2, sort_keys=True).replace(f'"{MINIMUM_AUC}"', MINIMUM_AUC)
    if p.network is not None:
        text = text.replace('"@SUBNETS@"', p.network.subnets).replace('"@SECURITY_GROUPS@"', p.network.security_groups)
    return text


# --- v3: the pipeline a model-build repository runs (seed code, data through Athena) --------

# What the Model Monitor analyzer container reads and writes (its documented environment).
BASELINE_INPUT = "/opt/ml/processing/input/baseline_dataset_input"
BASELINE_OUTPUT = "/opt/ml/processing/output"
JSON_CONTENT = "application/json"


@dataclass(frozen=True)
class RepositoryBuild:
    """What the repository's pipeline adds to :class:`BuildPipeline`.

    Attributes:
        region: the pipeline's region (scripts call Athena and the Feature Store there).
        processing_image: image of the preprocessing step (scikit-learn).
        training_image: image of training (the seed's train.py in script mode), evaluation and
            inference (XGBoost: it serves the trained ``xgboost-model`` as it is).
        monitor_image: the Model Monitor analyzer image that computes the data-quality baseline.
        baseline_path: ``s3://`` prefix of the baselines (the team's models bucket, under the
            project's prefix); each run writes ``<prefix>/<execution id>/``.
        evaluation_path: ``s3://`` prefix of the evaluation reports, beside the baselines (the
            report is registered as the package's model quality: the hub copies it from there).
        source_dir: ``s3://`` URI of the tarball of ``code/`` the build uploads (script mode).
    """

    region: str
    processing_image: str
    training_image: str
    monitor_image: str
    baseline_path: str
    source_dir: str
    evaluation_path: str


def _joined(*values: Any) -> Json:
    return {"Std:Join": {"On": "/", "Values": list(values)}}


def baseline_step(p: BuildPipeline, r: RepositoryBuild, name: str, *, dataset: Any) -> Json:
    """A Processing step running the Model Monitor analyzer on ``dataset`` (CSV, no header): it writes
    ``statistics.json`` and ``constraints.json``, the data-quality baseline a monitor compares with."""
    output = _joined(r.baseline_path, _get("Execution.PipelineExecutionId"))
    arguments: Json = {
        "AppSpecification": {"ImageUri": r.monitor_image},
        "Environment": {
            "dataset_format": json.dumps({"csv": {"header": False, "output_columns_position": "START"}}),
            "dataset_source": BASELINE_INPUT,
            "output_path": BASELINE_OUTPUT,
            "publish_cloudwatch_metrics": "Disabled",
        },
        "ProcessingInputs": [_s3_input("baseline_dataset_input", BASELINE_INPUT, dataset)],
        "ProcessingOutputConfig": {
            "KmsKeyId": p.model_key_arn or p.key_arn,
            "Outputs": [
                {
                    "OutputName": "baseline",
                    "S3Output": {"LocalPath": BASELINE_OUTPUT, "S3UploadMode": "EndOfJob", "S3Uri": output},
                }
            ],
        },
        "ProcessingResources": {"ClusterConfig": _resources(p, "ProcessingInstanceType")},
        "RoleArn": p.role_arn,
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    if p.network is not None:
        arguments["NetworkConfig"] = {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": False,
            "VpcConfig": _vpc(p),
        }
    return {"Name": name, "Type": "Processing", "Arguments": arguments}


# Metadata key of an artifact's S3 version at registration, by the field path the artifact's URL
# has in the CreateModelPackage request; the hub's promotion function reads the same keys
# (``mlgov.functions.promotion.VERSION_KEY``) and copies exactly those versions.
VERSION_KEY = "mlgov:version:"
SEAL_FILE = "seal.json"
# The registration's artifact fields the Seal step records, by field path -> artifact name.
SEALED_FIELDS = {
    "InferenceSpecification.Containers.0.ModelDataUrl": "model",
    "DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri": "statistics",
    "DriftCheckBaselines.ModelDataQuality.Constraints.S3Uri": "constraints",
    "ModelMetrics.ModelQuality.Statistics.S3Uri": "evaluation",
}


def seal_step(p: BuildPipeline, r: RepositoryBuild, name: str, *, artifacts: dict[str, Any]) -> Json:
    """A Processing step running the seed's ``seal.py``: the current S3 version of each artifact
    (``{name: url}``), written to ``seal.json`` (property file ``Seal``) for the Register step."""
    arguments: list[Any] = ["--region", r.region]
    for artifact, url in artifacts.items():
        arguments += ["--artifact", artifact, url]
    return processing_step(
        p,
        name,
        image=r.processing_image,
        script="seal.py",
        inputs=[],
        outputs=["seal"],
        property_files=[{"FilePath": SEAL_FILE, "OutputName": "seal", "PropertyFileName": "Seal"}],
        container_arguments=arguments,
    )


def sealed_versions(step: str, fields: dict[str, str]) -> Json:
    """CustomerMetadataProperties of a registration: ``mlgov:version:<field path>`` -> the version
    ``step``'s seal.json recorded for the artifact named ``fields[path]``."""
    return {
        VERSION_KEY + path: {
            "Std:JsonGet": {"Path": f"versions.{name}", "PropertyFile": _get(f"Steps.{step}.PropertyFiles.Seal")}
        }
        for path, name in sorted(fields.items())
    }


def repository_document(p: BuildPipeline, r: RepositoryBuild) -> Json:
    """The repository's definition as data: preprocess (the governed training data through Athena, or
    S3), baseline the features, train and evaluate the seed's scripts, and register if AUC is high
    enough, with the baseline as the package's DriftCheckBaselines."""
    model_data = _get("Steps.Train.ModelArtifacts.S3ModelArtifacts")

    def split(channel: str) -> Json:
        return _get(f"Steps.Preprocess.ProcessingOutputConfig.Outputs['{channel}'].S3Output.S3Uri")

    def baseline_file(name: str) -> Json:
        return {
            "ContentType": JSON_CONTENT,
            "S3Uri": _joined(_get("Steps.Baseline.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"), name),
        }

    preprocess = processing_step(
        p,
        "Preprocess",
        image=r.processing_image,
        script="preprocess.py",
        inputs=[_s3_input("raw", "/opt/ml/processing/input/raw", _get("Parameters.InputDataUri"))],
        outputs=["train", "validation", "test", "baseline"],
        container_arguments=[
            "--training-source",
            _get("Parameters.TrainingSource"),
            "--athena-workgroup",
            _get("Parameters.AthenaWorkgroup"),
            "--region",
            r.region,
        ],
    )
    baseline = baseline_step(p, r, "Baseline", dataset=split("baseline"))
    train = training_step(
        p,
        "Train",
        image=r.training_image,
        channels={c: split(c) for c in ("train", "validation")},
        hyperparameters={
            "sagemaker_program": "train.py",
            "sagemaker_region": r.region,
            "sagemaker_submit_directory": r.source_dir,
        },
    )
    evaluate = processing_step(
        p,
        "Evaluate",
        image=r.training_image,
        script="evaluate.py",
        inputs=[
            _s3_input("model", "/opt/ml/processing/model", model_data),
            _s3_input("test", "/opt/ml/processing/test", split("test")),
        ],
        outputs=["evaluation"],
        property_files=[
            {"FilePath": "evaluation.json", "OutputName": "evaluation", "PropertyFileName": "EvaluationReport"}
        ],
        output_path=r.evaluation_path,
        output_key_arn=p.model_key_arn,
    )
    evaluation = _get("Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri")
    report = _joined(evaluation, "evaluation.json")
    statistics, constraints = baseline_file("statistics.json"), baseline_file("constraints.json")
    # Every artifact the package names, sealed at its current S3 version before registering.
    seal = seal_step(
        p,
        r,
        "Seal",
        artifacts={
            "model": model_data,
            "statistics": statistics["S3Uri"],
            "constraints": constraints["S3Uri"],
            "evaluation": report,
        },
    )
    versions = sealed_versions("Seal", SEALED_FIELDS)
    register = register_step(
        p,
        "Register",
        image=r.training_image,
        model_data=model_data,
        extra={
            "CustomerMetadataProperties": versions,
            "DriftCheckBaselines": {"ModelDataQuality": {"Constraints": constraints, "Statistics": statistics}},
            "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": JSON_CONTENT, "S3Uri": report}}},
        },
    )
    check = _auc_gate(register)
    parameters = _parameters(p)
    parameters[1:1] = [
        {"Name": "TrainingSource", "Type": "String", "DefaultValue": "${TrainingSource}"},
        {"Name": "AthenaWorkgroup", "Type": "String", "DefaultValue": "${AthenaWorkgroup}"},
    ]
    return {
        "Version": SCHEMA_VERSION,
        "Metadata": {},
        "Parameters": parameters,
        "Steps": [preprocess, baseline, train, evaluate, seal, check],
    }


def repository_definition(p: BuildPipeline, r: RepositoryBuild) -> str:
    """:func:`repository_document` as indented JSON (sorted keys), ``${MinimumAuc}`` unquoted."""
    return json.dumps(repository_document(p, r), indent=2, sort_keys=True).replace(f'"{MINIMUM_AUC}"', MINIMUM_AUC)


def _auc_gate(register: dict[str, Any]) -> dict[str, Any]:
    """The condition step every build shares: register only a model whose test AUC reaches
    ``MinimumAuc``, else fail the run."""
    return {
        "Name": "CheckAuc",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "GreaterThanOrEqualTo",
                    "LeftValue": {
                        "Std:JsonGet": {
                            "Path": "metrics.auc.value",
                            "PropertyFile": _get("Steps.Evaluate.PropertyFiles.EvaluationReport"),
                        }
                    },
                    "RightValue": _get("Parameters.MinimumAuc"),
                }
            ],
            "ElseSteps": [
                {
                    "Name": "AucTooLow",
                    "Type": "Fail",
                    "Arguments": {"ErrorMessage": "model AUC is below MinimumAuc; not registered"},
                }
            ],
            "IfSteps": [register],
        },
    }
