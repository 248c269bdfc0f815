"""The deployment recipes: Kubernetes manifests validated offline against the 1.37 API schemas (kubernetes-validate
ships them), their wiring checked (probes, selectors, volume), and the compose file's shape."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
MANIFESTS = sorted(p for p in (DEPLOY / "kubernetes").glob("*.yaml") if p.name != "kustomization.yaml")
K8S_VERSION = "1.37.0"


def load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / "kubernetes" / name).read_text())


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path):
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_validation_would_catch_a_mistake():
    broken = copy.deepcopy(load("deployment.yaml"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_pieces_fit_together():
    deployment, service, hpa, pdb, pvc = (load(n) for n in ("deployment.yaml", "service.yaml", "hpa.yaml", "pdb.yaml",
                                                            "models-pvc.yaml"))
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    env = {e["name"]: e["value"] for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert env["CLASSIFIER_MODELS_DIR"] == mounts["models"]
    # The kubelet waits longer than gunicorn's graceful timeout, so in-flight requests finish.
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 20


def test_compose_file_has_the_stack():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [name for name in services if name.startswith("classifier-")]
    assert len(replicas) >= 2 and {"nginx", "redis", "trainer"} <= set(services)
    for name in replicas + ["trainer"]:
        assert "models:/app/models" in services[name]["volumes"]
    assert "models" in compose["volumes"]
    upstream = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert all(f"server {name}:8080" in upstream for name in replicas)


def test_compose_variables_work_with_debians_podman_compose():
    """Debian's podman-compose 1.0 leaves ``${VAR:-}`` (an empty default) as literal text, so a token written that
    way would become the string itself; a value is passed through from the shell by naming the key alone."""
    text = (DEPLOY / "compose.yaml").read_text()
    assert ":-}" not in text
    compose = yaml.safe_load(text)
    assert compose["services"]["nginx"]["ports"] == ["127.0.0.1:${CLASSIFIER_COMPOSE_PORT:-8080}:8080"]
    for name in ("classifier-1", "classifier-2"):
        environment = compose["services"][name]["environment"]
        assert "CLASSIFIER_ADMIN_TOKEN" in environment and environment["CLASSIFIER_ADMIN_TOKEN"] is None
