#!/usr/bin/env python3
"""Checks Airlock's packaging (the Dockerfile, deploy/compose and
deploy/kubernetes) without a cluster or a Docker engine.

    scripts/check-manifests.sh          # installs what this needs, then runs it

    python3 deploy/check_packaging.py --kubectl PATH

Needs PyYAML, jsonschema and kubernetes-validate, and a kubectl binary:
scripts/check-manifests.sh installs the pinned ones into a virtualenv.

1. Kubernetes. Every kustomization under deploy/kubernetes (the base and each
   overlay: every folder with a kustomization.yaml) is rendered by
   `kubectl kustomize`, the kustomize built into kubectl, which
   `kubectl apply -k` uses. Each rendered object is validated against the
   JSON schemas of Kubernetes KUBERNETES_VERSION (kubernetes-validate,
   strict: an unknown field is an error). ServiceMonitor, a custom resource
   of prometheus-operator with no schema there, is validated against
   SERVICE_MONITOR below: the fields these manifests use, with the types the
   CRD gives them, and no others, so a misspelt field fails; a field of the
   CRD not listed there fails too until it is added. An object of a kind
   with neither schema fails. Then, in each rendering, names must resolve:
   Services, the disruption budget, the network policy and the spread
   constraints select the Deployment's pods; target ports, probe ports and
   policy ports name container ports; the autoscaler targets the
   Deployment; the ServiceMonitor selects a Service with its port and job
   label; AIRLOCK_CONFIG is a key of the mounted ConfigMap, which parses as
   TOML, and every `env:NAME` in it is a variable of the container.
2. Compose. compose.yaml parses as YAML; depends_on names services; named
   volumes are declared and bind-mounted files exist; every ${VAR} is in
   .env.example; nginx's upstream servers are the Airlock services, on the
   API port; Prometheus scrapes the Airlock services on the admin port;
   airlock.toml parses, is what AIRLOCK_CONFIG names, and every `env:NAME`
   in it is set for the instances.
3. Dockerfile. Its runtime stage exposes exactly the Deployment's container
   ports, its listen addresses use them (API and admin), its HEALTHCHECK
   asks the admin port, and its USER is not root.

Prints one line per check and a total; exits 1 when any check failed.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
KUBERNETES = HERE / "kubernetes"
COMPOSE = HERE / "compose"
DOCKERFILE = REPO / "Dockerfile"

# The oldest Kubernetes the manifests support: autoscaling/v2, policy/v1 and
# the preStop `sleep` handler (beta, on by default, since 1.30).
KUBERNETES_VERSION = "1.30.0"

_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
# monitoring.coreos.com/v1 ServiceMonitor, reduced to the fields used here.
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "namespace": {"type": "string"},
                "labels": _LABELS,
                "annotations": _LABELS,
            },
        },
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": _LABELS},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                        },
                    },
                },
            },
        },
    },
}
CUSTOM_SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR}


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, what: str, problems: list[str]) -> None:
        if problems:
            self.failed += 1
            print(f"FAIL {what}")
            for problem in problems:
                print(f"       {problem}")
        else:
            self.passed += 1
            print(f"ok   {what}")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def strings(value) -> list[str]:
    """Every string in a parsed YAML document."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def env_references(document) -> set[str]:
    """The NAMEs of every `env:NAME` value in a parsed TOML document."""
    return {value[4:] for value in strings(document) if value.startswith("env:")}


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


# ---------------------------------------------------------------------------
# Dockerfile


def runtime_stage(path: Path) -> dict:
    """EXPOSE, ENV, USER and HEALTHCHECK of the Dockerfile's last stage."""
    logical, line = [], ""
    for raw in path.read_text().splitlines():
        if not line and raw.lstrip().startswith("#"):
            continue
        line += raw.rstrip()
        if line.endswith("\\"):
            line = line[:-1] + " "
            continue
        if line.strip():
            logical.append(line.strip())
        line = ""
    stage: dict = {"expose": [], "env": {}, "user": None, "healthcheck": None}
    for instruction in logical:
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage = {"expose": [], "env": {}, "user": None, "healthcheck": None}
        elif keyword == "EXPOSE":
            stage["expose"] += [int(p.split("/")[0]) for p in rest.split()]
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                stage["env"][key] = value
        elif keyword == "USER":
            stage["user"] = rest.strip()
        elif keyword == "HEALTHCHECK":
            stage["healthcheck"] = rest
    return stage


def port_of(address: str) -> int | None:
    match = re.search(r":(\d+)(?:/|$)", address)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------
# Kubernetes


def render(kubectl: str, directory: Path) -> tuple[list[dict], str | None]:
    run = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True
    )
    if run.returncode != 0:
        return [], run.stderr.strip() or f"kubectl exited with {run.returncode}"
    return [d for d in yaml.safe_load_all(run.stdout) if d], None


def schema_problems(obj: dict) -> list[str]:
    custom = CUSTOM_SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
    if custom is not None:
        errors = jsonschema.Draft202012Validator(custom).iter_errors(obj)
        return [
            f"{'.'.join(map(str, e.path)) or '(object)'}: {e.message}"
            for e in sorted(errors, key=lambda e: list(map(str, e.path)))
        ]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(map(str, e.path)) or '(object)'}: {e.message}"]
    except kubernetes_validate.SchemaNotFoundError as e:
        return [f"{e.message}: give it a schema in {rel(Path(__file__))}"]
    return []


def reference_problems(objects: list[dict]) -> list[str]:
    named: dict[str, dict[str, dict]] = {}
    for obj in objects:
        named.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    deployments = named.get("Deployment", {})
    services = named.get("Service", {})
    problems = [] if deployments else ["no Deployment"]

    def match_labels(selector: dict, where: str) -> dict:
        """A LabelSelector's matchLabels (matchExpressions are not evaluated here)."""
        if "matchExpressions" in selector:
            problems.append(f"{where}: matchExpressions are not checked here; use matchLabels")
        return selector.get("matchLabels", {})

    def pods(labels: dict, where: str) -> list[dict]:
        chosen = [
            d for d in deployments.values()
            if selects(labels, d["spec"]["template"]["metadata"].get("labels", {}))
        ]
        if not labels or not chosen:
            problems.append(f"{where}: selects no Deployment's pods ({labels})")
        return chosen

    def container_ports(deployment: dict) -> dict[str, int]:
        return {
            p["name"]: p["containerPort"]
            for c in deployment["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
            if "name" in p
        }

    def port_known(port, deployment: dict) -> bool:
        ports = container_ports(deployment)
        return port in ports if isinstance(port, str) else port in ports.values()

    for name, deployment in deployments.items():
        where = f"Deployment/{name}"
        pod = deployment["spec"]["template"]["spec"]
        pods(match_labels(deployment["spec"]["selector"], where), f"{where} selector")
        for i, spread in enumerate(pod.get("topologySpreadConstraints", [])):
            spread_at = f"{where} topologySpreadConstraints[{i}]"
            pods(match_labels(spread["labelSelector"], spread_at), spread_at)
        configmaps = {
            v["name"]: v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v
        }
        for container in pod["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = container.get(probe, {}).get("httpGet", {}).get("port")
                if port is not None and not port_known(port, deployment):
                    problems.append(f"{where} {probe}: port {port!r} is not a container port")
            env = {e["name"]: e for e in container.get("env", [])}
            config = env.get("AIRLOCK_CONFIG", {}).get("value")
            if config is None:
                continue
            directory, _, key = config.rpartition("/")
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            configmap = named.get("ConfigMap", {}).get(configmaps.get(mounts.get(directory), ""))
            if configmap is None or key not in configmap.get("data", {}):
                problems.append(
                    f"{where}: AIRLOCK_CONFIG {config} is not a key of a ConfigMap mounted at {directory}"
                )
                continue
            try:
                settings = tomllib.loads(configmap["data"][key])
            except tomllib.TOMLDecodeError as e:
                problems.append(f"ConfigMap/{configmap['metadata']['name']} {key}: {e}")
                continue
            for missing in sorted(env_references(settings) - set(env)):
                problems.append(f"{where}: {key} reads env:{missing}, which the container does not set")

    for name, service in services.items():
        for deployment in pods(service["spec"]["selector"], f"Service/{name}"):
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                if not port_known(target, deployment):
                    problems.append(f"Service/{name}: targetPort {target!r} is not a container port")
    for name, budget in named.get("PodDisruptionBudget", {}).items():
        where = f"PodDisruptionBudget/{name}"
        pods(match_labels(budget["spec"]["selector"], where), where)
    for name, policy in named.get("NetworkPolicy", {}).items():
        where = f"NetworkPolicy/{name}"
        for deployment in pods(match_labels(policy["spec"]["podSelector"], where), where):
            for rule in policy["spec"].get("ingress", []):
                for port in rule.get("ports", []):
                    if not port_known(port["port"], deployment):
                        problems.append(f"{where}: ingress port {port['port']!r} is not a container port")
    for name, hpa in named.get("HorizontalPodAutoscaler", {}).items():
        target = hpa["spec"]["scaleTargetRef"]
        if target["name"] not in named.get(target["kind"], {}):
            problems.append(f"HorizontalPodAutoscaler/{name}: no {target['kind']}/{target['name']}")
    for name, monitor in named.get("ServiceMonitor", {}).items():
        where = f"ServiceMonitor/{name}"
        labels = match_labels(monitor["spec"]["selector"], where)
        chosen = [s for s in services.values() if selects(labels, s["metadata"].get("labels", {}))]
        if not chosen:
            problems.append(f"{where}: selects no Service")
        for service in chosen:
            service_at = f"{where}: Service/{service['metadata']['name']}"
            ports = {p.get("name") for p in service["spec"]["ports"]}
            for endpoint in monitor["spec"]["endpoints"]:
                if endpoint["port"] not in ports:
                    problems.append(f"{service_at} has no port {endpoint['port']!r}")
            job = monitor["spec"].get("jobLabel")
            if job and job not in service["metadata"].get("labels", {}):
                problems.append(f"{service_at} has no label {job!r}")
    return problems


# ---------------------------------------------------------------------------
# Compose


def compose_problems(image: dict) -> list[tuple[str, list[str]]]:
    checks: list[tuple[str, list[str]]] = []
    compose_file = COMPOSE / "compose.yaml"
    text = compose_file.read_text()
    try:
        compose = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return [(f"{rel(compose_file)} parses as YAML", [str(e)])]
    checks.append((f"{rel(compose_file)} parses as YAML", []))
    services: dict = compose.get("services", {})

    problems = []
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            if dependency not in services:
                problems.append(f"{name}: depends_on {dependency}, which is not a service")
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith((".", "/")):
                if not (COMPOSE / source).exists():
                    problems.append(f"{name}: mounts {source}, which does not exist")
            elif source not in declared:
                problems.append(f"{name}: volume {source} is not declared under volumes")
    # In the values (not the comments): $$ is a literal dollar; ${NAME},
    # ${NAME:-...} and ${NAME:?...} read .env.
    used = {
        name
        for value in strings(compose)
        for name in re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", value)
    }
    example = COMPOSE / ".env.example"
    given = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", example.read_text(), re.MULTILINE))
    for missing in sorted(used - given):
        problems.append(f"${{{missing}}} is not in {rel(example)}")
    checks.append(("compose: dependencies, volumes, mounted files and .env.example", problems))

    # The instances: the services built from the repository's Dockerfile.
    airlock = {n: s for n, s in services.items() if "build" in s}
    api = port_of(image["env"].get("AIRLOCK_LISTEN", ""))
    admin = port_of(image["env"].get("AIRLOCK_ADMIN_LISTEN", ""))
    problems = [] if airlock else ["no service is built from the Dockerfile"]
    nginx = (COMPOSE / "nginx.conf").read_text()
    upstream = set()
    for block in re.findall(r"upstream\s+\S+\s*\{([^}]*)\}", nginx):
        for host, port in re.findall(r"^\s*server\s+([^\s:;]+):(\d+)", block, re.MULTILINE):
            upstream.add(host)
            if host not in services:
                problems.append(f"nginx upstream server {host} is not a compose service")
            elif int(port) != api:
                problems.append(f"nginx upstream server {host}:{port} is not on the API port {api}")
    for missing in sorted(set(airlock) - upstream):
        problems.append(f"{missing} is not an upstream server of nginx")
    prometheus = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    scraped = set()
    for job in prometheus.get("scrape_configs", []):
        for static in job.get("static_configs", []):
            for target in static.get("targets", []):
                host, _, port = target.rpartition(":")
                scraped.add(host)
                if host not in airlock or int(port) != admin:
                    problems.append(f"Prometheus target {target} is not an Airlock admin port ({admin})")
    for missing in sorted(set(airlock) - scraped):
        problems.append(f"Prometheus does not scrape {missing}")
    checks.append(("compose: nginx upstream and Prometheus targets are the Airlock ports", problems))

    problems = []
    config_file = COMPOSE / "airlock.toml"
    try:
        settings = tomllib.loads(config_file.read_text())
    except tomllib.TOMLDecodeError as e:
        settings = {}
        problems.append(f"{rel(config_file)}: {e}")
    for name, service in airlock.items():
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        mounts = {}  # target: source
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                mounts[volume["target"]] = volume["source"]
            else:
                source, target = volume.split(":")[:2]
                mounts[target] = source
        if mounts.get(environment.get("AIRLOCK_CONFIG")) != "./airlock.toml":
            problems.append(f"{name}: AIRLOCK_CONFIG is not where ./airlock.toml is mounted")
        for missing in sorted(env_references(settings) - set(environment)):
            problems.append(f"{name}: airlock.toml reads env:{missing}, which is not in its environment")
    checks.append((f"{rel(config_file)} parses and the instances set its env: references", problems))
    return checks


# ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubectl", default="kubectl", help="kubectl binary (its kustomize renders)")
    args = parser.parse_args()
    report = Report()

    try:
        version = subprocess.run(
            [args.kubectl, "version", "--client"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"FAIL cannot run {args.kubectl}: {e}")
        return 1
    # "Client Version: v1.37.1" and "Kustomize Version: v5.8.1".
    versions = dict(re.findall(r"^(\w+) Version: (\S+)$", version, re.MULTILINE))
    print(
        f"kubectl {versions.get('Client', '?')} (kustomize {versions.get('Kustomize', '?')}); "
        f"schemas of Kubernetes {KUBERNETES_VERSION}, strict"
    )

    image = runtime_stage(DOCKERFILE)
    # The renderings whose objects all passed their schemas, which the
    # checks that follow read.
    renderings: dict[str, list[dict]] = {}
    kustomizations = sorted(KUBERNETES.rglob("kustomization.yaml"))
    if not kustomizations:
        report.check(f"kustomizations under {rel(KUBERNETES)}", ["none found"])
    for kustomization in kustomizations:
        directory = kustomization.parent
        label = str(directory.relative_to(KUBERNETES))
        objects, error = render(args.kubectl, directory)
        report.check(f"kustomize {label}: {len(objects)} objects", [error] if error else [])
        if error:
            continue
        valid = True
        for obj in objects:
            problems = schema_problems(obj)
            valid = valid and not problems
            what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            report.check(f"  schema {label}: {what}", problems)
        if valid:
            renderings[label] = objects
            report.check(f"  references {label}", reference_problems(objects))
        else:
            report.check(f"  references {label}", ["not checked: schema errors above"])

    for what, problems in compose_problems(image):
        report.check(what, problems)

    problems = []
    exposed = set(image["expose"])
    api = port_of(image["env"].get("AIRLOCK_LISTEN", ""))
    admin = port_of(image["env"].get("AIRLOCK_ADMIN_LISTEN", ""))
    if exposed != {api, admin}:
        problems.append(f"EXPOSE {sorted(exposed)} is not the listen ports (API {api}, admin {admin})")
    healthcheck = image["healthcheck"] or ""
    if port_of(healthcheck.split("CMD", 1)[-1]) != admin:
        problems.append(f"HEALTHCHECK does not ask the admin port {admin}: {healthcheck}")
    if image["user"] is None or image["user"].split(":")[0] in ("0", "root"):
        problems.append(f"USER is {image['user']}: run as a non-root user")
    for label, objects in renderings.items():
        for deployment in (o for o in objects if o["kind"] == "Deployment"):
            ports = {
                p.get("name"): p["containerPort"]
                for c in deployment["spec"]["template"]["spec"]["containers"]
                for p in c.get("ports", [])
            }
            if ports != {"api": api, "admin": admin}:
                problems.append(
                    f"{label} Deployment/{deployment['metadata']['name']}: container ports"
                    f" {ports}, not api {api} and admin {admin}"
                )
    report.check(
        f"Dockerfile: EXPOSE {' '.join(map(str, sorted(exposed)))} = listen ports"
        " = container ports; health check; user",
        problems,
    )

    print(f"check-manifests: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
