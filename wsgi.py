"""WSGI entry point: ``gunicorn wsgi:app``."""

import os
import sys

from app import create_app
from config import ConfigError

try:
    # Under `flask --app wsgi ...` help and the command list must work unconfigured; the commands
    # themselves refuse to run with the error (flask sets this variable before importing us).
    app = create_app(defer_config_error=os.environ.get("FLASK_RUN_FROM_CLI") == "true")
except ConfigError as error:
    sys.exit(f"docs-proxy: configuration error: {error}")
