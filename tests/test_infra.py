"""The cluster infrastructure in infra/, checked by the tools that will consume it, without AWS, Kubernetes or Docker.

- ``infra/aws/cluster.yaml``: Ray's autoscaler schema (``ray-schema.json`` in the ray wheel), the checks ``ray up``
  runs (``prepare_config`` then ``validate_config``), and botocore's model of EC2 RunInstances for each node_config.
- ``infra/k8s/``: Kubernetes' own OpenAPI schemas (kubernetes-validate, strict) for the core kinds and for every
  pod template inside the KubeRay resources; the KubeRay fields by structure; every ``cues`` command line in a
  manifest, a Dockerfile or infra/README.md is parsed by the real CLI, and its ``--help`` runs.
- ``infra/docker/``: BuildKit's Dockerfile parser, the context docker-py would send under ``.dockerignore``.
- ``infra/terraform/``: ``terraform fmt -check`` when terraform is installed, and an HCL2 parser for the bucket's
  settings and the least-privilege policy.
- ``bench/capacity.py``: its arithmetic on a hand-computed example.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import hcl2
import jsonschema
import kubernetes_validate
import pytest
import typer.main
import yaml
from croniter import croniter
from typer.testing import CliRunner

from bench.capacity import Measured, Target, bytes_per_cue, estimate, files_per_cue, measured_from
from cues.services.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
TERRAFORM = INFRA / "terraform"
CLUSTER_YAML = INFRA / "aws" / "cluster.yaml"
DOCKERFILES = (INFRA / "docker" / "Dockerfile", INFRA / "docker" / "Dockerfile.cuda")
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests are meant for (CronJob timeZone is GA since 1.27)
runner = CliRunner()

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
TORCH_PIN = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch"))
DEB_PACKAGES = re.search(r"^DEB_PACKAGES := (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def dockerfile_instructions(path: Path):
    import dockerfile

    return dockerfile.parse_file(str(path))  # BuildKit's own parser (Go), through its Python binding


# --- Ray cluster launcher (infra/aws/cluster.yaml) ---------------------------------------------------------------


def ray_schema() -> dict:
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def schema_errors(config: dict) -> list[str]:
    schema = ray_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(error.message for error in validator.iter_errors(config))


def ray_up_checks(config: dict) -> dict:
    """What ``ray up`` does to a config before it calls AWS (ray/autoscaler/_private/commands.py)."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def run_instances_errors(node_config: dict) -> str:
    """botocore's report on ``ec2.create_instances(**node_config)`` as Ray's AWS node provider sends it."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("ec2").operation_model("RunInstances").input_shape
    return ParamValidator().validate({**node_config, "MinCount": 1, "MaxCount": 1}, shape).generate_report()


def test_cluster_config_matches_rays_autoscaler_schema():
    assert schema_errors(load(CLUSTER_YAML)[0]) == []


def test_cluster_config_passes_the_checks_of_ray_up():
    prepared = ray_up_checks(load(CLUSTER_YAML)[0])
    types = prepared["available_node_types"]
    assert prepared["head_node_type"] == "head"
    assert (types["head"]["max_workers"], types["head"]["resources"]) == (0, {"CPU": 0})
    assert types["cpu"]["resources"] == {"CPU": 16} and types["gpu"]["resources"] == {"CPU": 4, "GPU": 1}
    assert sum(t["max_workers"] for name, t in types.items() if name != "head") <= prepared["max_workers"]
    # The common setup commands reach both the head and the workers.
    assert prepared["head_setup_commands"] == prepared["worker_setup_commands"] == prepared["setup_commands"]


def test_a_misspelled_cluster_config_is_refused():
    config = load(CLUSTER_YAML)[0]
    config["max_worker"] = config.pop("max_workers")
    assert schema_errors(config) == ["Additional properties are not allowed ('max_worker' was unexpected)"]
    with pytest.raises(jsonschema.ValidationError, match="'max_worker' was unexpected"):
        ray_up_checks(config)

    config = load(CLUSTER_YAML)[0]
    config["available_node_types"]["cpu"]["min_worker"] = 0
    assert schema_errors(config) == ["Additional properties are not allowed ('min_worker' was unexpected)"]


def test_node_configs_are_valid_run_instances_requests():
    for name, node_type in load(CLUSTER_YAML)[0]["available_node_types"].items():
        assert run_instances_errors(node_type["node_config"]) == "", name
    broken = dict(load(CLUSTER_YAML)[0]["available_node_types"]["cpu"]["node_config"], InstanceTyp="c7i.4xlarge")
    assert run_instances_errors(broken).startswith('Unknown parameter in input: "InstanceTyp", must be one of:')


def test_cluster_config_matches_terraform_and_the_project():
    config = load(CLUSTER_YAML)[0]
    variables = terraform_variables()
    profiles = terraform_blocks("resource", "aws_iam_instance_profile")
    head_profile = profiles["ray_head"]["name"].replace("${var.name_prefix}", variables["name_prefix"])
    worker_profile = profiles["ray_worker"]["name"].replace("${var.name_prefix}", variables["name_prefix"])
    types = config["available_node_types"]
    assert types["head"]["node_config"]["IamInstanceProfile"] == {"Name": head_profile}
    for name in ("cpu", "gpu"):
        assert types[name]["node_config"]["IamInstanceProfile"] == {"Name": worker_profile}
    assert config["cluster_name"] == variables["ray_cluster_name"]
    region = config["provider"]["region"]
    assert region == variables["region"]
    assert all(zone.startswith(region) for zone in config["provider"]["availability_zone"].split(","))
    for command in config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        if "ray start" in command:
            assert f"AWS_REGION={region} AWS_DEFAULT_REGION={region}" in command

    setup = " ".join(config["setup_commands"])
    assert all(f" {package}" in setup for package in DEB_PACKAGES)
    assert f" {TORCH_PIN} " in setup
    assert "uv venv --python 3.11 ~/cues" in setup
    assert config["file_mounts"] == {"/home/ubuntu/cues-src": "."}
    assert "~/cues-src" in config["setup_commands"][-2]


# --- Kubernetes manifests (infra/k8s/) ---------------------------------------------------------------------------

MANIFESTS = {
    "serviceaccount.yaml": [("v1", "Namespace"), ("v1", "ServiceAccount")],
    "schedules.yaml": [("v1", "ConfigMap")],
    "raycluster.yaml": [("ray.io/v1", "RayCluster")],
    "rayjob-submit.yaml": [("ray.io/v1", "RayJob")],
    "raycronjob.yaml": [("ray.io/v1", "RayCronJob")],
    "cronjob.yaml": [("batch/v1", "CronJob")],
    "rayservice.yaml": [("ray.io/v1", "RayService")],
}
IMAGE_REPOSITORY = "111122223333.dkr.ecr.us-east-1.amazonaws.com/cues"


RAY_KINDS = ("RayCluster", "RayJob", "RayCronJob", "RayService")


def manifests() -> list[tuple[str, dict]]:
    return [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) for doc in load(path)]


def ray_cluster_spec(doc: dict) -> dict:
    if doc["kind"] == "RayCluster":
        return doc["spec"]
    if doc["kind"] == "RayService":
        return doc["spec"]["rayClusterConfig"]
    if doc["kind"] == "RayJob":
        return doc["spec"]["rayClusterSpec"]
    return doc["spec"]["jobTemplate"]["rayClusterSpec"]  # RayCronJob: jobTemplate is a RayJob spec


def pod_templates() -> list[tuple[str, dict]]:
    """(where, pod template) of every pod the manifests would start."""
    found = []
    for name, doc in manifests():
        if doc["kind"] in RAY_KINDS:
            spec = ray_cluster_spec(doc)
            found.append((f"{name} head", spec["headGroupSpec"]["template"]))
            found += [(f"{name} {g['groupName']}", g["template"]) for g in spec["workerGroupSpecs"]]
        elif doc["kind"] == "CronJob":
            found.append((name, doc["spec"]["jobTemplate"]["spec"]["template"]))
    return found


def test_manifests_are_the_expected_kinds():
    assert {path.name for path in K8S.glob("*.yaml")} == set(MANIFESTS)
    for path in K8S.glob("*.yaml"):
        assert [(doc["apiVersion"], doc["kind"]) for doc in load(path)] == MANIFESTS[path.name], path.name
        for doc in load(path):
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == "cues", path.name


@pytest.mark.parametrize("name", ["serviceaccount.yaml", "schedules.yaml", "cronjob.yaml"])
def test_core_kinds_match_the_kubernetes_schema(name):
    for doc in load(K8S / name):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def as_pod_template(template: dict) -> dict:
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check"}, "template": template}


def test_every_pod_template_matches_the_kubernetes_schema():
    templates = pod_templates()
    assert len(templates) == 10  # RayCluster 3, RayJob 2, RayCronJob 2, CronJob 1, RayService 2
    for where, template in templates:
        try:
            kubernetes_validate.validate(as_pod_template(template), K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{where}: {err.message}")


def test_a_broken_manifest_is_refused():
    cronjob = load(K8S / "cronjob.yaml")[0]
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["resource"] = container.pop("resources")
    with pytest.raises(kubernetes_validate.ValidationError) as err:
        kubernetes_validate.validate(cronjob, K8S_VERSION, strict=True)
    assert err.value.message == "Additional properties are not allowed ('resource' was unexpected)"
    _, template = pod_templates()[0]
    template = copy.deepcopy(template)
    template["spec"]["containers"][0]["resources"]["limits"]["cpu"] = ["2"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(as_pod_template(template), K8S_VERSION, strict=True)


def test_kuberay_resources_have_the_fields_kuberay_reads():
    import ray

    submission_modes = {"K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode"}
    for name, doc in manifests():
        if doc["kind"] not in RAY_KINDS:
            continue
        spec = ray_cluster_spec(doc)
        assert spec["rayVersion"] == ray.__version__, name  # the version pyproject.toml pins
        head = spec["headGroupSpec"]
        assert head["rayStartParams"]["num-cpus"] == "0", name  # cue workers never land on the head
        assert [c["name"] for c in head["template"]["spec"]["containers"]] == ["ray-head"], name
        groups = spec["workerGroupSpecs"]
        assert len({g["groupName"] for g in groups}) == len(groups), name
        for group in groups:
            assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], name
            assert isinstance(group["rayStartParams"], dict), name
            [container] = group["template"]["spec"]["containers"]
            gpus = container["resources"]["limits"].get("nvidia.com/gpu")
            assert container["image"] == f"{IMAGE_REPOSITORY}:{VERSION}" + ("-cuda" if gpus else ""), name
        if doc["kind"] in ("RayJob", "RayCronJob"):
            job = doc["spec"] if doc["kind"] == "RayJob" else doc["spec"]["jobTemplate"]
            assert job["entrypoint"].startswith("cues "), name
            assert job["submissionMode"] in submission_modes, name
            assert job["shutdownAfterJobFinishes"] is True and job["ttlSecondsAfterFinished"] > 0, name
            assert all(g["replicas"] == g["maxReplicas"] for g in groups), name  # complete before the entrypoint
    cluster = next(doc for _, doc in manifests() if doc["kind"] == "RayCluster")
    assert cluster["spec"]["enableInTreeAutoscaling"] is True
    gpu = next(g for g in cluster["spec"]["workerGroupSpecs"] if g["groupName"] == "gpu")
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_raycronjob_uses_the_fields_of_kuberay_1_6():
    # ray.io_raycronjobs.yaml of KubeRay 1.6: spec.schedule and spec.jobTemplate (a RayJob spec) required,
    # spec.suspend optional; timeZone arrives in 1.7.
    [doc] = load(K8S / "raycronjob.yaml")
    assert set(doc["spec"]) == {"schedule", "jobTemplate", "suspend"}
    assert croniter.is_valid(doc["spec"]["schedule"])
    assert {"entrypoint", "rayClusterSpec"} <= set(doc["spec"]["jobTemplate"])
    assert "spec" not in doc["spec"]["jobTemplate"]
    text = (K8S / "raycronjob.yaml").read_text()
    assert "KubeRay ≥ 1.6" in text and "feature gate" in text and "ALPHA" in text


def rayservice_schema() -> dict:
    """The RayService CRD's openAPIV3Schema of KubeRay 1.6.2, pod templates pruned (they are checked against
    Kubernetes' own schema above), made strict as ``kubectl apply`` (field validation ``Strict``) is: an unknown
    field is an error, except where the CRD preserves unknown fields."""

    def strict(node):
        if isinstance(node, dict):
            if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                node.setdefault("additionalProperties", False)
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)
        return node

    return strict(json.loads((ROOT / "tests" / "kuberay" / "rayservice-v1.6.2.schema.json").read_text()))


def rayservice_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(rayservice_schema())
    return sorted(f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc))


def test_rayservice_matches_kuberays_crd_and_serves_the_api(tmp_path):
    from ray.serve import Application
    from ray.serve.schema import ServeDeploySchema

    from cues.services.api import app as api_app
    from cues.services.api.auth import add_token

    [doc] = load(K8S / "rayservice.yaml")
    assert rayservice_errors(doc) == []
    config = ServeDeploySchema.model_validate(yaml.safe_load(doc["spec"]["serveConfigV2"]))  # what Serve reads
    [application] = config.applications
    assert application.route_prefix == "/" and config.http_options.host == "0.0.0.0"
    module, _, name = application.import_path.partition(":")
    assert module == "cues.services.api.app"
    secrets = {"/etc/cues-api/tokens.yaml", "/etc/cues-api/webhook-secret"}
    assert {application.args["tokens_file"], application.args["webhook_secret_file"]} == secrets
    assert application.args["webhook_networks"] == []  # in a cluster, webhooks never go to its own network
    # Serve calls the builder with the args; here with the secret files where the pods mount them, made locally
    local = {**application.args, "tokens_file": tmp_path / "tokens.yaml", "webhook_secret_file": tmp_path / "secret"}
    with pytest.raises(Exception, match="no caller|no token"):  # refused before Serve would retry a replica
        getattr(api_app, name)(local)
    add_token(tmp_path / "tokens.yaml", "acme-pipeline")
    assert isinstance(getattr(api_app, name)(local), Application)
    with pytest.raises(Exception, match="workerz"):
        getattr(api_app, name)({**local, "workerz": 2})
    for where, template in pod_templates():
        if where.startswith("rayservice.yaml"):  # the API's replica may land on any node: all mount the secret
            volumes = {v["name"]: v for v in template["spec"]["volumes"]}
            mounts = template["spec"]["containers"][0]["volumeMounts"]
            [mount] = [m for m in mounts if m["mountPath"] == "/etc/cues-api"]
            assert volumes[mount["name"]]["secret"]["secretName"] == "cues-api", where


def test_a_broken_rayservice_is_refused():
    [doc] = load(K8S / "rayservice.yaml")
    misspelled = copy.deepcopy(doc)
    misspelled["spec"]["serveConfig"] = misspelled["spec"].pop("serveConfigV2")  # the pre-1.0 field
    assert any("'serveConfig' was unexpected" in error for error in rayservice_errors(misspelled))
    no_cluster = copy.deepcopy(doc)
    del no_cluster["spec"]["rayClusterConfig"]
    assert any("'rayClusterConfig' is a required property" in error for error in rayservice_errors(no_cluster))


def test_pods_run_as_the_irsa_service_account_of_terraform():
    variables = terraform_variables()
    account = load(K8S / "serviceaccount.yaml")[1]
    role = terraform_blocks("resource", "aws_iam_role")["eks_pods"]["name"]
    assert account["metadata"]["name"] == variables["k8s_service_account"]
    assert account["metadata"]["namespace"] == variables["k8s_namespace"]
    arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn == "arn:aws:iam::111122223333:role/" + role.replace("${var.name_prefix}", variables["name_prefix"])
    for where, template in pod_templates():
        spec = template["spec"]
        assert spec["serviceAccountName"] == account["metadata"]["name"], where
        for container in spec["containers"]:
            env = {e["name"]: e["value"] for e in container["env"]}
            assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == variables["region"], where
            assert container["resources"]["requests"] == container["resources"]["limits"], where


def schedule_file() -> tuple[str, str]:
    [config_map] = load(K8S / "schedules.yaml")
    [(key, text)] = config_map["data"].items()
    return key, text


def test_schedule_config_map_is_a_valid_schedule(tmp_path):
    key, text = schedule_file()
    (tmp_path / key).write_text(text)
    result = runner.invoke(app, ["schedule", "validate", str(tmp_path / key)], terminal_width=300)
    assert result.exit_code == 0, result.output


def test_scheduled_runs_start_when_the_schedule_is_due():
    key, text = schedule_file()
    schedule = yaml.safe_load(text)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

    def fires(cron: str) -> list[dt.datetime]:
        times = croniter(cron, start)
        return [times.get_next(dt.datetime) for _ in range(8)]

    assert schedule["timezone"] == "UTC"
    [raycronjob] = load(K8S / "raycronjob.yaml")
    [cronjob] = load(K8S / "cronjob.yaml")
    assert cronjob["spec"]["timeZone"] == "Etc/UTC" and cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    for doc in (raycronjob, cronjob):
        assert fires(doc["spec"]["schedule"]) == fires(schedule["cron"]), doc["kind"]
    for where, template in pod_templates():
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        mounts = {m["mountPath"]: m["name"] for c in template["spec"]["containers"] for m in c["volumeMounts"]}
        if "/schedules" in mounts:
            assert volumes[mounts["/schedules"]]["configMap"] == {"name": "cues-schedules"}, where
    for command in (raycronjob["spec"]["jobTemplate"]["entrypoint"], shlex.join(cronjob_command(cronjob))):
        assert f"/schedules/{key}" in command


def cronjob_command(cronjob: dict) -> list[str]:
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]


# --- every `cues` command line in infra/ -------------------------------------------------------------------------


def readme_commands() -> list[list[str]]:
    """`cues …` lines in infra/README.md's shell blocks (after any VAR=value prefixes)."""
    commands, in_block = [], False
    for line in (INFRA / "README.md").read_text().replace("\\\n", " ").splitlines():
        if line.startswith("```"):
            in_block = not in_block and line.strip() in ("```sh", "```bash")
            continue
        if not in_block:
            continue
        words = shlex.split(line.split(" # ")[0]) if line.strip() else []
        # a command of its own, or one quoted inside another (`ray exec … 'RAY_ADDRESS=auto ~/cues/bin/cues …'`)
        for candidate in [words, *(shlex.split(w) for w in words if "cues " in w)]:
            while candidate and re.fullmatch(r"[A-Z_]+=\S*", candidate[0]):
                candidate.pop(0)
            if candidate and (candidate[0] == "cues" or candidate[0].endswith("/bin/cues")):
                commands.append(["cues", *candidate[1:]])
    return commands


def cues_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every `cues` command line that infra/ runs or tells an engineer to run."""
    found = []
    for name, doc in manifests():
        if doc["kind"] == "RayJob":
            found.append((name, shlex.split(doc["spec"]["entrypoint"])))
        elif doc["kind"] == "RayCronJob":
            found.append((name, shlex.split(doc["spec"]["jobTemplate"]["entrypoint"])))
    for where, template in pod_templates():
        for container in template["spec"]["containers"]:
            argv = container.get("command", []) + container.get("args", [])
            if argv[:1] == ["cues"]:
                found.append((where, argv))
    for path in DOCKERFILES:
        commands = {c.cmd: list(c.value) for c in dockerfile_instructions(path)}
        found.append((path.name, commands["ENTRYPOINT"] + commands["CMD"]))
    found += [("infra/README.md", argv) for argv in readme_commands()]
    return found


def parse_command_line(argv: list[str]) -> tuple[list[str], dict]:
    """Parse ``argv`` with the real CLI, without running it: (subcommand path, parameters). Raises the CLI's own
    usage error (no such option, missing argument, bad value) as the command would."""
    command, path, rest = typer.main.get_command(app), [], argv[1:]
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command = command.commands[rest[0]]
        path.append(rest.pop(0))
    if "--help" in rest:
        return path, {}
    return path, command.make_context(" ".join(["cues", *path]), list(rest)).params


def test_the_infrastructure_runs_these_commands():
    commands = {(where, shlex.join(argv)) for where, argv in cues_commands()}
    assert {
        ("rayjob-submit.yaml", "cues submit s3://acme-music/briefs/ --store s3://acme-music/cues"),
        ("raycronjob.yaml", "cues schedule run /schedules/library-weekly.yaml --store s3://acme-music/cues"),
        ("cronjob.yaml", "cues schedule run /schedules/library-weekly.yaml --store s3://acme-music/cues"),
        ("Dockerfile", "cues --help"),
        ("Dockerfile.cuda", "cues --help"),
    } <= commands
    assert len(readme_commands()) >= 5


@pytest.mark.parametrize(
    "argv", [argv for _, argv in cues_commands()], ids=[f"{where}: {shlex.join(a)}" for where, a in cues_commands()]
)
def test_command_lines_parse_and_have_help(argv):
    path, _ = parse_command_line(argv)
    assert path or argv == ["cues", "--help"]
    result = runner.invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output


def test_a_renamed_option_breaks_the_command_check():
    with pytest.raises(Exception, match="No such option: --stor"):
        parse_command_line(["cues", "submit", "s3://acme-music/briefs/", "--stor", "s3://acme-music/cues"])
    with pytest.raises(Exception, match="Missing parameter: file"):
        parse_command_line(["cues", "schedule", "run", "--store", "s3://acme-music/cues"])
    path, params = parse_command_line(["cues", "submit", "s3://acme-music/briefs/", "--store", "s3://acme-music/cues"])
    assert path == ["submit"] and params["store"] == "s3://acme-music/cues"


# --- container image (infra/docker/, .dockerignore, make image) --------------------------------------------------

# Every instruction of the Dockerfile reference.
INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip


def build_context() -> set[str]:
    """The files `docker build .` sends to the builder: docker-py's implementation of .dockerignore matching."""
    from docker.utils.build import exclude_paths

    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return exclude_paths(str(ROOT), patterns)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_parses_and_copies_only_what_the_context_holds(path):
    instructions = dockerfile_instructions(path)
    assert {i.cmd for i in instructions} <= INSTRUCTIONS
    assert instructions[0].cmd == "FROM" and instructions[0].value == ("python:3.11-slim-bookworm",)
    context = build_context()
    copies = [i for i in instructions if i.cmd == "COPY"]
    assert copies
    for copy_ in copies:
        *sources, _ = copy_.value
        for source in sources:
            assert (ROOT / source).exists(), source
            inside = [p for p in context if p == source or p.startswith(source + "/")]
            assert inside, f"{source} is excluded by .dockerignore"
    runs = " ".join(" ".join(i.value) for i in instructions if i.cmd == "RUN")
    assert all(f" {package}" in runs for package in DEB_PACKAGES)
    assert f"pip install {TORCH_PIN} " in runs
    assert "pip install . " in runs


def test_cpu_and_cuda_dockerfiles_differ_only_in_pytorch():
    cpu, cuda = (dockerfile_instructions(path) for path in DOCKERFILES)
    assert [i.cmd for i in cpu] == [i.cmd for i in cuda]
    differing = [(a.original, b.original) for a, b in zip(cpu, cuda, strict=True) if a.original != b.original]
    assert [a for a, _ in differing][1] == "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"
    assert [b for _, b in differing][1] == "ARG TORCH_INDEX_URL=https://pypi.org/simple"
    assert len(differing) == 2 and differing[0][0].startswith("ENV ")  # and NVIDIA_DRIVER_CAPABILITIES


def test_dockerignore_keeps_local_state_out_of_the_image():
    context = build_context()
    for kept in ("pyproject.toml", "README.md", "pipelines/models/default/melody/model.pt", "services/cli/app.py"):
        assert kept in context
    for left_out in (".venv", "cue-store", ".git", "bench/results", "tests", "__pycache__", ".pytest_cache"):
        assert not [p for p in context if p == left_out or p.startswith(left_out + "/") or f"/{left_out}/" in p]


def make(*args: str) -> str:
    """``make`` as a person would run it: not as a sub-make of ``make test`` (which would add directory lines)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return subprocess.run(["make", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout


def test_make_image_builds_both_variants():
    assert make("-n", "image") == f"docker build -f infra/docker/Dockerfile -t cues:{VERSION} .\n"
    expected = "docker build -f infra/docker/Dockerfile.cuda -t r/cues:1-cuda .\n"
    assert make("-n", "image-cuda", "IMAGE=r/cues:1") == expected
    assert [line.split()[1] for line in make("help").splitlines() if line.startswith("make image")] == [
        "image",
        "image-cuda",
    ]


# --- Terraform (infra/terraform/) --------------------------------------------------------------------------------


def terraform_files() -> dict[str, dict]:
    options = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
    return {path.name: hcl2.loads(path.read_text(), serialization_options=options) for path in TERRAFORM.glob("*.tf")}


def terraform_blocks(block: str, kind: str | None = None) -> dict:
    """``resource``/``data`` blocks of one type by name, or ``variable``/``locals``/``output`` merged."""
    merged = {}
    for parsed in terraform_files().values():
        for entry in parsed.get(block, []):
            merged.update(entry.get(kind, {}) if kind else entry)
    return merged


def terraform_variables() -> dict:
    return {name: spec.get("default") for name, spec in terraform_blocks("variable").items()}


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_is_formatted():
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", "-recursive", str(TERRAFORM)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_files_parse_and_declare_the_bucket():
    assert set(terraform_files()) == {"versions.tf", "variables.tf", "main.tf", "iam.tf", "outputs.tf"}
    resources = {kind: terraform_blocks("resource", kind) for kind in (
        "aws_s3_bucket_versioning", "aws_s3_bucket_public_access_block", "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_lifecycle_configuration",
    )}  # fmt: skip
    assert resources["aws_s3_bucket_versioning"]["store"]["versioning_configuration"] == [{"status": "Enabled"}]
    block = resources["aws_s3_bucket_public_access_block"]["store"]
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    assert [block[flag] for flag in flags] == [True, True, True, True]
    assert resources["aws_s3_bucket_ownership_controls"]["store"]["rule"] == [
        {"object_ownership": "BucketOwnerEnforced"}
    ]
    [rule] = resources["aws_s3_bucket_server_side_encryption_configuration"]["store"]["rule"]
    assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "${var.sse_algorithm}"
    variables = terraform_blocks("variable")
    assert variables["sse_algorithm"]["default"] == "aws:kms"
    rules = {r["id"]: r for r in resources["aws_s3_bucket_lifecycle_configuration"]["store"]["rule"]}
    assert rules["abort-incomplete-multipart-uploads"]["abort_incomplete_multipart_upload"] == [
        {"days_after_initiation": "${var.abort_incomplete_multipart_days}"}
    ]
    assert variables["abort_incomplete_multipart_days"]["default"] == 2
    assert rules["expire-old-versions"]["noncurrent_version_expiration"] == [
        {"noncurrent_days": "${var.noncurrent_version_days}"}
    ]
    assert all(r["status"] == "Enabled" for r in rules.values())
    [deny] = terraform_blocks("data", "aws_iam_policy_document")["tls_only"]["statement"]
    assert (deny["effect"], deny["condition"][0]["variable"], deny["condition"][0]["values"]) == (
        "Deny",
        "aws:SecureTransport",
        ["false"],
    )


BUCKET_ARN = "${aws_s3_bucket.store.arn}"
ALLOWED_S3_ACTIONS = {
    "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
}  # fmt: skip


def resolve_locals(value, local_values: dict):
    """Substitute ``${local.x}`` references (whole values and inside strings), as Terraform would."""
    if isinstance(value, list):
        return [item for v in value for item in _as_list(resolve_locals(v, local_values))]
    whole = re.fullmatch(r"\$\{local\.(\w+)\}", value)
    if whole:
        return resolve_locals(local_values[whole.group(1)], local_values)
    return re.sub(r"\$\{local\.(\w+)\}", lambda m: resolve_locals(local_values[m.group(1)], local_values), value)


def _as_list(value):
    return value if isinstance(value, list) else [value]


def least_privilege_problems(statements: list[dict], local_values: dict) -> list[str]:
    """What makes the bucket policy more than least privilege: wildcards, unexpected actions, other resources."""
    allowed_resources = {BUCKET_ARN} | {
        f"{BUCKET_ARN}/${{var.{prefix}}}{suffix}"
        for prefix in ("store_prefix", "briefs_prefix")
        for suffix in ("", "/*")
    }
    problems = []
    for statement in statements:
        for action in statement["actions"]:
            if "*" in action or action not in ALLOWED_S3_ACTIONS:
                problems.append(f"{statement.get('sid')}: action {action}")
        for resource in _as_list(resolve_locals(statement["resources"], local_values)):
            if resource not in allowed_resources:
                problems.append(f"{statement.get('sid')}: resource {resource}")
        writes = {"s3:PutObject", "s3:DeleteObject"} & set(statement["actions"])
        if writes and any("briefs_prefix" in r for r in _as_list(resolve_locals(statement["resources"], local_values))):
            problems.append(f"{statement.get('sid')}: writes to the briefs")
    return problems


def test_cluster_policy_is_least_privilege_on_the_bucket():
    documents = terraform_blocks("data", "aws_iam_policy_document")
    local_values = terraform_blocks("locals")
    store_access = documents["store_access"]
    assert least_privilege_problems(store_access["statement"], local_values) == []
    [kms] = store_access["dynamic"]
    assert kms["statement"]["for_each"] == "${local.use_kms ? [aws_kms_key.store[0].arn] : []}"
    assert kms["statement"]["content"] == [
        {
            "sid": "UseTheBucketKey",
            "actions": ["kms:Decrypt", "kms:GenerateDataKey"],
            "resources": ["${statement.value}"],
        }
    ]
    # The checker does catch a too-broad statement.
    broad = [{"sid": "Everything", "actions": ["s3:*"], "resources": [f"{BUCKET_ARN}/*"]}]
    assert least_privilege_problems(broad, local_values) == [
        "Everything: action s3:*",
        f"Everything: resource {BUCKET_ARN}/*",
    ]
    # Every role that runs cues gets that policy, and only the head gets the autoscaler's EC2 rights.
    attachments = terraform_blocks("resource", "aws_iam_role_policy_attachment")
    assert {a["role"] for a in attachments.values()} == {
        "${aws_iam_role.ray_head.name}",
        "${aws_iam_role.ray_worker.name}",
        "${aws_iam_role.eks_pods[0].name}",
    }
    assert {a["policy_arn"] for a in attachments.values()} == {"${aws_iam_policy.store_access.arn}"}
    autoscaler = documents["ray_autoscaler"]["statement"]
    actions = [action for statement in autoscaler for action in statement["actions"]]
    assert not [a for a in actions if a.startswith("s3:") or a.endswith("*")]
    [pass_role] = [s for s in autoscaler if s["actions"] == ["iam:PassRole"]]
    assert pass_role["resources"] == ["${aws_iam_role.ray_worker.arn}"]
    [terminate] = [s for s in autoscaler if "ec2:TerminateInstances" in s["actions"]]
    assert terminate["condition"][0]["values"] == ["${var.ray_cluster_name}"]
    assert (
        terraform_blocks("resource", "aws_iam_role_policy")["ray_autoscaler"]["role"] == "${aws_iam_role.ray_head.id}"
    )


# --- capacity estimate (bench/capacity.py) ----------------------------------------------------------------------


def test_capacity_estimate_on_a_hand_computed_example():
    measured = Measured(audio_s_per_core_s=20.0, compose_cpu_s_per_min=0.5, source="hand")
    target = Target(cues_per_day=14_400, cue_length_s=60.0, window_h=24.0, node_vcpus=4, utilisation=0.5)
    result = estimate(measured, target)
    # 60 s / 20 = 3 core-s a cue; 14,400 × 3 = 43,200 core-s a day = 0.5 core on average, 1 core at 50 %.
    assert result["core_s_per_cue"] == 3.0
    assert result["core_hours_per_day"] == 12.0
    assert result["cores"] == pytest.approx(1.0)
    assert result["nodes"] == 1
    # One 4-vCPU node flat out: 4 / 3 cues a second, 10 PUTs each; the day's cues in 14,400 / (4/3) s = 3 h.
    assert result["peak_cues_per_s"] == pytest.approx(4 / 3)
    assert result["s3_puts_per_s"] == pytest.approx(40 / 3)
    assert result["hours_for_the_day_on_those_nodes"] == pytest.approx(3.0)
    assert result["cores_at_put_limit"] == pytest.approx(3500 / 10 * 3)
    # 5 WAVs of 60 s × 48,000 × 2 channels × 3 bytes, a 192 kbit/s MP3 of 60 s, 150 kB of small files.
    assert bytes_per_cue(target) == 5 * 17_280_000 + 1_440_000 + 150_000
    assert result["node_mbytes_per_s"] == pytest.approx(4 / 3 * 87_990_000 / 1e6)
    assert result["compose_share_of_cpu"] == pytest.approx(0.5 / 3)
    assert result["bottleneck"] == "rendering CPU"
    busy = estimate(measured, Target(cues_per_day=20_000_000, node_vcpus=4, utilisation=0.5))
    assert busy["s3_puts_per_s"] > 3500 and busy["bottleneck"].startswith("S3 PUT rate of one prefix")


def test_capacity_counts_the_files_a_cue_writes():
    assert files_per_cue(Target()) == 10  # cue.mid plan.json pianoroll.png mix.wav preview.mp3 manifest.json + 4 stems
    assert files_per_cue(Target(flac=True)) == 15


def test_capacity_reads_the_batch_benchmark(tmp_path):
    rows = {
        "pipeline, 1 worker": {"cues": 40, "audio_s": 1800.0, "wall_s": 100.0},
        "pipeline, 2 workers": {"cues": 40, "audio_s": 1800.0, "wall_s": 60.0},
    }
    (tmp_path / "batch.json").write_text(json.dumps({"rows": rows}))
    measured = measured_from(tmp_path, None, None)
    assert measured.audio_s_per_core_s == 15.0  # the slower of 18 (one worker) and 30 / 2 (two workers)
    assert measured.compose_cpu_s_per_min == 0.46
    (tmp_path / "quality.json").write_text(json.dumps({"cpu_s_per_minute_of_music": 0.4}))
    assert measured_from(tmp_path, 12.0, None) == Measured(12.0, 0.4, f"--audio-per-core-s; {tmp_path}/quality.json")
    with pytest.raises(FileNotFoundError):
        measured_from(tmp_path / "missing", None, None)
