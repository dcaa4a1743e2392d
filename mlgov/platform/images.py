"""Container images a model package may name, and the images of AWS's own monitors.

A central package is deployed in the team's test and prod accounts, so its images must come
from a registry those accounts may pull from: AWS's algorithm and framework registries in the
hub's region (the accounts below), or the team's own repository in the hub
(:func:`mlgov.platform.naming.team_image_repository`, whose policy lets the team's stage
accounts pull). The promotion function refuses any other image.

The account ids are the registries AWS publishes for its SageMaker images (scikit-learn and
XGBoost, the deep learning containers, Model Monitor and Clarify), per region. A region
missing here has no AWS registry mlgov trusts; validation says so.
"""

from __future__ import annotations

from mlgov.platform import naming
from mlgov.spec.model import OrgSpec

# The deep learning containers (PyTorch, TensorFlow, Hugging Face) share one account in these regions.
DLC_ACCOUNT = "763104351884"

# region -> (scikit-learn/XGBoost, Model Monitor, Clarify) registry accounts
_REGISTRIES: dict[str, tuple[str, str, str]] = {
    "ca-central-1": ("341280168497", "536280801234", "675030665977"),
    "eu-central-1": ("492215442770", "048819808253", "017069133835"),
    "eu-north-1": ("662702820516", "895015795356", "763603941244"),
    "eu-west-1": ("141502667606", "468650794304", "131013547314"),
    "eu-west-2": ("764974769150", "749857270468", "440796970383"),
    "eu-west-3": ("659782779980", "680080141114", "341593696636"),
    "us-east-1": ("683313688378", "156813124566", "205585389593"),
    "us-east-2": ("257758044811", "777275614652", "211330385671"),
    "us-west-1": ("746614075791", "890145073186", "740489534195"),
    "us-west-2": ("246618743249", "159807026194", "306415355426"),
}
MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
CLARIFY_REPOSITORY = "sagemaker-clarify-processing"


def known_regions() -> list[str]:
    """Regions whose AWS image registries mlgov knows."""
    return sorted(_REGISTRIES)


def aws_registry_accounts(region: str) -> list[str]:
    """AWS's SageMaker image registries in a region (empty for a region mlgov does not know)."""
    if region not in _REGISTRIES:
        return []
    return sorted({DLC_ACCOUNT, *_REGISTRIES[region]})


def model_monitor_image(region: str) -> str:
    """Model Monitor's analyzer image (data and model quality) in a region."""
    return f"{_REGISTRIES[region][1]}.dkr.ecr.{region}.amazonaws.com/{MODEL_MONITOR_REPOSITORY}"


def clarify_image(region: str) -> str:
    """SageMaker Clarify's processing image (bias drift) in a region."""
    return f"{_REGISTRIES[region][2]}.dkr.ecr.{region}.amazonaws.com/{CLARIFY_REPOSITORY}:1.0"


def registry_prefixes(spec: OrgSpec, region: str) -> list[tuple[str, str]]:
    """``(hub region prefix, prefix in region)`` of every registry a package may name: AWS's
    SageMaker registries (each image keeps its repository and tag, under that region's
    registry account) and the hub's own (the teams' repositories, which ECR replicates to
    the regions of their stages). SageMaker pulls a model's image only from its own region
    (SageMaker API reference, CreateModel, ``ContainerDefinition.Image``)."""
    hub = naming.hub_region(spec)

    def host(account: str, in_region: str) -> str:
        return f"{account}.dkr.ecr.{in_region}.amazonaws.com/"

    pairs = [(host(a, hub), host(b, region)) for a, b in zip(_REGISTRIES[hub], _REGISTRIES[region], strict=True)]
    pairs.append((host(DLC_ACCOUNT, hub), host(DLC_ACCOUNT, region)))
    hub_id = spec.accounts[spec.hub].id
    pairs.append((host(hub_id, hub), host(hub_id, region)))
    return sorted(set(pairs))


def pull_repositories(spec: OrgSpec, team: str, region: str) -> list[str]:
    """ECR repository ARNs a team's endpoints and jobs in a stage account may pull from."""
    hub_id = spec.accounts[spec.hub].id
    own = f"arn:aws:ecr:{region}:{hub_id}:repository/{naming.team_image_repository(spec, team)}"
    return [own] + [f"arn:aws:ecr:{region}:{a}:repository/*" for a in aws_registry_accounts(region)]


def promotion_rules(spec: OrgSpec, team: str) -> dict[str, object]:
    """What the promotion function accepts as an image of a team's package (its ``SOURCES`` entry)."""
    region = naming.hub_region(spec)
    return {
        "aws_accounts": aws_registry_accounts(region),
        "region": region,
        "repository": naming.image_repository_uri(spec, team),
    }
