"""deploy/: the Kubernetes manifests validate, the nginx site passes `nginx -t`, the systemd unit verifies."""

import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

import config
from app.settings import app_settings
from app import config_problem
from tests.servers import ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.37"


def manifests():
    """Return every object in deploy/kubernetes/."""
    objects = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        objects += [item for item in yaml.safe_load_all(path.read_text()) if item]
    return objects


def by_kind(kind):
    return next(item for item in manifests() if item["kind"] == kind)


@pytest.mark.parametrize("manifest", manifests(), ids=lambda item: f"{item['kind']}/{item['metadata']['name']}")
def test_kubernetes_manifest_validates_strictly(manifest):
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_kubernetes_manifests_hold_what_a_deployment_needs():
    kinds = {item["kind"] for item in manifests()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"} <= kinds


def test_kubernetes_probes_point_at_the_ops_endpoints_on_the_served_port():
    container = by_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/_/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/_/health"
    assert container["resources"]["requests"]["memory"] and container["resources"]["requests"]["cpu"]
    port = container["ports"][0]
    settings = by_kind("ConfigMap")["data"]
    assert settings["DOCS_BIND"].endswith(f":{port['containerPort']}")
    assert by_kind("Service")["spec"]["ports"][0]["targetPort"] == port["name"]


def test_kubernetes_grace_period_outlasts_gunicorns_graceful_timeout():
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    settings = by_kind("ConfigMap")["data"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > int(settings["GUNICORN_GRACEFUL_TIMEOUT"]) + pre_stop


def test_kubernetes_configuration_is_one_docs_proxy_accepts():
    settings = by_kind("ConfigMap")["data"]
    parsed = config.from_environ(settings, app_settings())
    assert parsed["DOCS_LOG_FORMAT"] == "json"
    assert config_problem(settings) is None


def test_kubernetes_ingress_routes_the_main_host_and_every_project_host_named_by_the_configuration():
    from app.hosts.policy import parse_pattern, project_of

    pattern = parse_pattern(by_kind("ConfigMap")["data"]["DOCS_PROJECT_HOSTS"])
    ingress = by_kind("Ingress")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == [pattern.main, "*" + pattern.suffix]
    assert ingress["spec"]["tls"][0]["hosts"] == hosts
    assert project_of(pattern, hosts[0]) is None and project_of(pattern, "payments" + pattern.suffix) == "payments"
    for rule in ingress["spec"]["rules"]:
        assert rule["http"]["paths"][0]["backend"]["service"]["name"] == by_kind("Service")["metadata"]["name"]


def test_nginx_site_serves_the_main_host_and_every_project_host():
    from app.hosts.policy import parse_pattern

    site = (DEPLOY / "nginx" / "docs-proxy.conf").read_text()
    environment = dict(line.split("=", 1) for line in (DEPLOY / "systemd" / "docs-proxy.env").read_text().splitlines()
                       if line and not line.startswith("#"))
    pattern = parse_pattern(environment["DOCS_PROJECT_HOSTS"])
    assert site.count(f"server_name {pattern.main} *{pattern.suffix};") == 2
    assert "proxy_set_header Host $host;" in site and "proxy_set_header X-Forwarded-Host $host;" in site


def test_kubernetes_manifest_validation_catches_a_mistake():
    deployment = by_kind("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = ["http"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def self_signed_certificate(directory):
    """Write a throwaway self-signed certificate and key; return their paths."""
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=docs.test",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_nginx_site_passes_nginx_configuration_test(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    site = (DEPLOY / "nginx" / "docs-proxy.conf").read_text()
    site = site.replace("/etc/ssl/docs-proxy/fullchain.pem", str(cert)).replace("/etc/ssl/docs-proxy/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
        f"    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"    access_log off;\n    include {tmp_path}/site.conf;\n}}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_systemd_unit_verifies(tmp_path):
    unit = (DEPLOY / "systemd" / "docs-proxy.service").read_text()
    assert "ExecStart=/opt/docs-proxy/.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app" in unit
    # verify checks that ExecStart exists: point it at this checkout's gunicorn.
    unit = unit.replace("/opt/docs-proxy/.venv/bin/gunicorn", str(ROOT / ".venv" / "bin" / "gunicorn"))
    (tmp_path / "docs-proxy.service").write_text(unit)
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "docs-proxy.service")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == ""


def test_systemd_environment_file_is_a_configuration_docs_proxy_accepts():
    lines = (DEPLOY / "systemd" / "docs-proxy.env").read_text().splitlines()
    settings = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    assert config_problem(settings) is None


def test_dockerfile_copies_what_the_app_needs_and_runs_gunicorn_as_non_root():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "NOT BUILT HERE" in dockerfile
    copied = [word for line in dockerfile.splitlines() if line.startswith("COPY") for word in line.split()[1:-1]]
    assert all((ROOT / path).exists() for path in copied), copied
    assert {"config.py", "wsgi.py", "gunicorn.conf.py", "app", "requirements.txt"} <= set(copied)
    assert "USER 10001" in dockerfile
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]' in dockerfile


def test_kubernetes_runs_flask_docs_gc_on_a_schedule_with_the_proxys_settings():
    cronjob = by_kind("CronJob")
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["flask", "--app", "wsgi", "docs", "gc"]
    assert container["image"] == by_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert container["envFrom"] == [{"configMapRef": {"name": "docs-proxy"}}]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
