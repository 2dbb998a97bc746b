"""Start-up fails closed: every configuration that would let a reader through unchecked stops the app."""

import os
import subprocess
import sys

import pytest

from app import create_app
from config import ConfigError

from tests.access.conftest import AUDIENCE, ISSUER, RULES
from tests.conftest import BUCKET
from tests.servers import FAKE_CREDENTIALS, ROOT

JWT = {"DOCS_AUTH": "jwt", "DOCS_AUTH_JWKS_URL": "http://127.0.0.1:9/jwks.json", "DOCS_AUTH_JWT_ISSUER": ISSUER, "DOCS_AUTH_JWT_AUDIENCE": AUDIENCE}
ALB = {**JWT, "DOCS_AUTH_JWT_PRESET": "alb", "DOCS_AUTH_ALB_ARN": "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/docs/1"}


def files(tmp_path):
    """Paths the table below refers to by name."""
    good_secret = tmp_path / "secret"
    good_secret.write_text("0123456789abcdef0123\n")
    short_secret = tmp_path / "short"
    short_secret.write_text("hunter2\n")
    md5 = tmp_path / "md5.htpasswd"
    md5.write_text("alice:$apr1$Xx0sWqC5$0qD8rfxf9nB0uZ.DjZq1e1\n")
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    dup = tmp_path / "dup.toml"
    dup.write_text('[[rule]]\npath = "a/"\npublic = true\n[[rule]]\npath = "a/"\ndeny = true\n')
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[rule]]\npath = "a/"\npublic = true\nallow = ["x"]\n')
    public = tmp_path / "public.toml"
    public.write_text('default = "public"\n')
    return {"secret": str(good_secret), "short": str(short_secret), "md5": str(md5), "rules": str(rules), "dup": str(dup), "unknown": str(unknown), "public": str(public), "missing": str(tmp_path / "missing")}


BAD = [
    ({"DOCS_AUTH": "header,ldap"}, "DOCS_AUTH='header,ldap': 'ldap' is not an identity source"),
    ({"DOCS_AUTH": "basic,basic", "DOCS_AUTH_HTPASSWD": "{md5}"}, "names a source twice"),
    ({"DOCS_AUTH": "header"}, "neither DOCS_AUTH_TRUSTED_NETWORKS nor DOCS_AUTH_SECRET_FILE is set"),
    ({"DOCS_AUTH": "header", "DOCS_AUTH_TRUSTED_NETWORKS": "10.0.0.0/33"}, "DOCS_AUTH_TRUSTED_NETWORKS: '10.0.0.0/33' is not an IP network"),
    ({"DOCS_AUTH": "header", "DOCS_AUTH_SECRET_FILE": "{missing}"}, "DOCS_AUTH_SECRET_FILE=.* cannot be read"),
    ({"DOCS_AUTH": "header", "DOCS_AUTH_SECRET_FILE": "{short}"}, "shorter than 16 bytes"),
    ({"DOCS_AUTH": "header", "DOCS_AUTH_SECRET_FILE": "{secret}", "DOCS_AUTH_USER_HEADER": "X_Forwarded_User"}, "DOCS_AUTH_USER_HEADER='X_Forwarded_User' is not a header name"),
    ({"DOCS_AUTH": "basic"}, "DOCS_AUTH_HTPASSWD is not set"),
    ({"DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": "{missing}"}, "DOCS_AUTH_HTPASSWD: cannot read the htpasswd file"),
    ({"DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": "{md5}"}, "DOCS_AUTH_HTPASSWD: .* line 1 \\(user 'alice'\\) is not a bcrypt hash"),
    ({**JWT, "DOCS_AUTH_JWT_ISSUER": None}, "DOCS_AUTH_JWT_ISSUER is not set"),
    ({**JWT, "DOCS_AUTH_JWT_AUDIENCE": None}, "DOCS_AUTH_JWT_AUDIENCE is not set"),
    ({**JWT, "DOCS_AUTH_JWKS_URL": None}, "DOCS_AUTH_JWKS_URL is not set"),
    ({**JWT, "DOCS_AUTH_JWKS_URL": "file:///etc/passwd"}, "DOCS_AUTH_JWKS_URL='file:///etc/passwd' is not an http\\(s\\) URL"),
    ({**JWT, "DOCS_AUTH_JWT_ALGORITHMS": "none"}, "'none' is not accepted"),
    ({**JWT, "DOCS_AUTH_JWT_ALGORITHMS": "RS256,HS256"}, "'HS256' is not accepted"),
    ({**JWT, "DOCS_AUTH_JWT_ALGORITHMS": ","}, "DOCS_AUTH_JWT_ALGORITHMS is empty"),
    ({**JWT, "DOCS_AUTH_JWT_PRESET": "okta"}, "DOCS_AUTH_JWT_PRESET='okta' is not allowed"),
    ({**ALB, "DOCS_AUTH_ALB_ARN": None}, "needs DOCS_AUTH_ALB_ARN"),
    ({**JWT, "DOCS_AUTH_ALB_ARN": ALB["DOCS_AUTH_ALB_ARN"]}, "only used with DOCS_AUTH_JWT_PRESET=alb"),
    ({"DOCS_ACCESS_RULES": "{rules}"}, "DOCS_ACCESS_RULES restricts some paths but DOCS_AUTH is unset"),
    ({"DOCS_ACCESS_RULES": "{missing}"}, "DOCS_ACCESS_RULES: cannot read the rules file"),
    ({**JWT, "DOCS_ACCESS_RULES": "{dup}"}, "DOCS_ACCESS_RULES: the rules file .*: rule 2 repeats the path 'a/'"),
    ({**JWT, "DOCS_ACCESS_RULES": "{unknown}"}, "rule 1 has unknown key\\(s\\) allow"),
    ({**JWT, "DOCS_AUTH_LOGIN_URL": "https://sso.example/login"}, "DOCS_AUTH_LOGIN_URL=.* must be a path on this site"),
    ({**JWT, "DOCS_AUTH_LOGIN_URL": "//sso.example/login"}, "must be a path on this site"),
]


@pytest.mark.parametrize("settings, message", BAD)
def test_bad_access_configuration_stops_start_up_naming_the_variable(aws_credentials, tmp_path, settings, message):
    paths = files(tmp_path)
    config = {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1"}
    config.update({name: value.format(**paths) if isinstance(value, str) else value for name, value in settings.items()})
    with pytest.raises(ConfigError, match=message):
        create_app(config)


@pytest.mark.parametrize(
    "settings",
    [{}, {"DOCS_ACCESS_RULES": "{public}"}, {**JWT}, {**ALB}, {**JWT, "DOCS_AUTH_JWT_PRESET": "iap"}, {"DOCS_AUTH": "header", "DOCS_AUTH_TRUSTED_NETWORKS": "10.0.0.0/8, ::1/128"}],
)
def test_good_access_configurations_start(aws_credentials, tmp_path, settings):
    paths = files(tmp_path)
    config = {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", **{name: value.format(**paths) for name, value in settings.items() if value}}
    create_app(config)


def test_gunicorn_refuses_to_start_before_any_worker_with_a_bad_access_configuration(tmp_path):
    env = {**os.environ, **FAKE_CREDENTIALS, "S3_BUCKET": BUCKET, "DOCS_AUTH": "header", "DOCS_BIND": "127.0.0.1:0"}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "docs-proxy: configuration error: DOCS_AUTH includes header, but neither DOCS_AUTH_TRUSTED_NETWORKS" in result.stderr
    assert "Booting worker" not in result.stdout + result.stderr


def test_gunicorn_refuses_header_mode_when_underscore_headers_would_pass(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("0123456789abcdef0123\n")
    env = {**os.environ, **FAKE_CREDENTIALS, "S3_BUCKET": BUCKET, "DOCS_AUTH": "header", "DOCS_AUTH_SECRET_FILE": str(secret), "DOCS_BIND": "127.0.0.1:0"}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--header-map", "dangerous", "wsgi:app"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "header_map is 'dangerous'" in result.stderr
