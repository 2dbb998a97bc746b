"""Settings tables: every setting reaches the app from the environment, and the reference lists them all."""

import ast
import os
import runpy
from pathlib import Path

import pytest
from flask import Flask

import app.access.settings
from app import create_app, load_config
from app import settings as app_settings_module
from app.ops.server import GUNICORN_SETTINGS
from app.settings import app_settings, render_reference, setting_modules, table

ROOT = Path(__file__).resolve().parent.parent
EVERY_SETTING = [setting for _, module in setting_modules() for setting in table(module)]
# Where gunicorn.conf.py puts each of its variables.
GUNICORN_NAMES = {"DOCS_BIND": "bind", "WEB_CONCURRENCY": "workers", "GUNICORN_THREADS": "threads",
                  "GUNICORN_GRACEFUL_TIMEOUT": "graceful_timeout", "GUNICORN_WORKER_CLASS": "worker_class",
                  "GUNICORN_WORKER_CONNECTIONS": "worker_connections"}


@pytest.fixture
def clean_environ(monkeypatch):
    """An environment without any docs-proxy or gunicorn variable."""
    for name in list(os.environ):
        if name.startswith(("S3_", "DOCS_", "GUNICORN_", "WEB_")) or name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_every_setting_is_declared_once():
    names = [setting.name for setting in EVERY_SETTING]
    assert len(names) == len(set(names)), sorted(name for name in names if names.count(name) > 1)


@pytest.mark.parametrize("setting", app_settings(), ids=lambda setting: setting.name)
def test_every_setting_reaches_app_config_from_the_environment(setting, clean_environ, aws_credentials):
    clean_environ.setenv("S3_BUCKET", "from-env")
    clean_environ.setenv(setting.name, setting.example)
    app = Flask(__name__)
    # create_app's first step; the cross-field checks are left out, as one example alone may not satisfy them.
    clean_environ.setattr(app_settings_module, "run_checks", lambda values, lenient=False: {})

    load_config(app)

    expected = setting.parse(setting.name, setting.example)
    assert expected is not None and expected != setting.default
    assert app.config[setting.name] == expected


@pytest.mark.parametrize("setting", GUNICORN_SETTINGS, ids=lambda setting: setting.name)
def test_every_gunicorn_setting_reaches_gunicorn_conf_from_the_environment(setting, clean_environ):
    clean_environ.setenv(setting.name, setting.example)

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    expected = setting.parse(setting.name, setting.example)
    assert expected != setting.default
    assert conf[GUNICORN_NAMES[setting.name]] == expected


def test_gunicorn_conf_uses_the_declared_defaults(clean_environ):
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert (conf["bind"], conf["threads"], conf["graceful_timeout"]) == ("127.0.0.1:8000", 16, 60)
    assert conf["workers"] == (os.cpu_count() or 2)
    assert (conf["worker_class"], conf["worker_connections"]) == ("app.ops.worker.DocsWorker", 1000)
    # Read outside gunicorn (here, by pytest), the file must not monkey-patch the reading process.
    assert not conf["PATCHES"]


def test_the_configuration_reference_is_generated_from_the_tables():
    written = (ROOT / "docs" / "configuration.md").read_text()

    assert written == render_reference(), "docs/configuration.md is stale: run make settings-doc"


@pytest.mark.parametrize("setting", EVERY_SETTING, ids=lambda setting: setting.name)
def test_every_setting_appears_in_the_configuration_reference(setting):
    rows = [line for line in (ROOT / "docs" / "configuration.md").read_text().splitlines() if line.startswith(f"| `{setting.name}` |")]

    assert len(rows) == 1 and setting.help in rows[0]


def test_access_control_is_built_once_when_the_app_is_created(monkeypatch, aws_credentials):
    built = []

    def counting(settings):
        built.append(app.access.settings.build_access(settings))
        return built[-1]

    monkeypatch.setattr(app.access.settings, "check", counting)

    docs_app = create_app({"S3_BUCKET": "b", "S3_REGION": "us-east-1"})

    assert len(built) == 1
    assert docs_app.extensions["access"] is built[0]


def test_config_at_the_root_imports_nothing_from_the_app():
    tree = ast.parse((ROOT / "config.py").read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]

    assert not [name for name in imported if name == "app" or name.startswith("app.")]
