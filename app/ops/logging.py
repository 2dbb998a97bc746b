"""Logs: one JSON object per line (``DOCS_LOG_FORMAT=json``) or text, each line carrying the request's id.

python-json-logger is a stdlib ``logging.Formatter``: gunicorn's loggers, Flask's and botocore's
keep their own calls and handlers, and only the formatter changes. The access log goes through
``GunicornLogger``, a gunicorn logger class, so every value is JSON-escaped (a format string shaped
like JSON would copy a path with a quote in it verbatim).
"""

import logging
import os
import re
import sys
import traceback

from flask import g, has_request_context
from gunicorn import glogging
from pythonjsonlogger.json import JsonFormatter

import config

from .context import ENVIRON_KEYS
from .settings import SETTINGS

# The fields of an application log line that come from the request, when there is one.
REQUEST_FIELDS = ("request_id", "client_request_id", "user", "s3_key", "s3_request_id")
TEXT_FORMAT = ("[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s request_id=%(request_id)s"
               " client_request_id=%(client_request_id)s")
OUR_HANDLER = "_docs_proxy"


def json_formatter():
    """Return the formatter of every JSON log line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``."""
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


class RequestFields(logging.Filter):
    """Add the current request's id, user, S3 key and S3 request id to every record logged during it."""

    def filter(self, record):
        in_request = has_request_context()
        for name in REQUEST_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, g.get(name) if in_request else None)
        return True


class StderrHandler(logging.StreamHandler):
    """A stream handler that writes to whatever ``sys.stderr`` is when a record comes (as logging's last resort does)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass  # always the current sys.stderr


def log_format(environ):
    """Return ``DOCS_LOG_FORMAT`` from ``environ`` (the default when unset or invalid: start-up reports that)."""
    (setting,) = [setting for setting in SETTINGS if setting.name == "DOCS_LOG_FORMAT"]
    try:
        return config.from_environ(environ, (setting,)).get(setting.name, setting.default)
    except config.ConfigError:
        return setting.default


def init_app(app):
    """Send application logs through one handler with the request fields, as JSON or text."""
    from flask.logging import default_handler

    install_handler(app.config["DOCS_LOG_FORMAT"])
    app.logger.removeHandler(default_handler)
    app.logger.setLevel(logging.INFO)


def install_handler(log_format):
    """Send this process's log records to stderr through one handler, as ``json`` or text (the search builder's too)."""
    handler = StderrHandler()
    setattr(handler, OUR_HANDLER, True)
    handler.addFilter(RequestFields())
    if log_format == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    # On the root logger, so botocore's and urllib3's warnings come out in the same shape; each
    # create_app (tests build many) replaces the previous one rather than adding a second.
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, OUR_HANDLER, False)]:
        root.removeHandler(old)
    root.addHandler(handler)


# Query parameters whose values must never reach a log (an upload token pasted into a URL by mistake,
# a presigned URL's signature): the name is kept, the value replaced.
SECRET_PARAMETER = re.compile(r"(?i)([^&=]*(?:token|secret|password|signature|credential)[^&=]*)=[^&]*")


def redact_query(query):
    """Return a query string with the values of secret-looking parameters replaced by ``REDACTED``."""
    return SECRET_PARAMETER.sub(r"\1=REDACTED", query) if query else query


def access_fields(resp, req, environ, request_time):
    """Return the fields of one access log line from what gunicorn knows and what the app left in ``environ``."""
    status = resp.status
    if isinstance(status, str):
        status = status.split(None, 1)[0]
    try:
        status = int(status)
    except (TypeError, ValueError):
        pass
    return {
        "request_id": environ.get(ENVIRON_KEYS["request_id"]),
        "client_request_id": environ.get(ENVIRON_KEYS["client_request_id"]),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "query": redact_query(environ.get("QUERY_STRING")) or None,
        "protocol": environ.get("SERVER_PROTOCOL"),
        "status": status,
        "bytes": getattr(resp, "sent", None),
        "duration_ms": round(request_time.total_seconds() * 1000, 3),
        "route": environ.get(ENVIRON_KEYS["route"]),
        "user": environ.get(ENVIRON_KEYS["user"]) or environ.get("REMOTE_USER"),
        "s3_key": environ.get(ENVIRON_KEYS["s3_key"]),
        "s3_request_id": environ.get(ENVIRON_KEYS["s3_request_id"]),
        "cache": environ.get(ENVIRON_KEYS["cache_result"]),
        "access": environ.get(ENVIRON_KEYS["access_decision"]),
        "user_agent": environ.get("HTTP_USER_AGENT"),
        "referer": environ.get("HTTP_REFERER"),
        "pid": os.getpid(),
    }


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, writing its error and access logs as JSON lines when ``DOCS_LOG_FORMAT=json``.

    In ``text`` mode it is gunicorn's own logger, with ``access_log_format`` from gunicorn.conf.py.
    """

    def setup(self, cfg):
        """Set up gunicorn's handlers, then give them the JSON formatter if asked to."""
        super().setup(cfg)
        self.json = log_format(os.environ) == "json"
        if self.json:
            for handler in self.error_log.handlers + self.access_log.handlers:
                handler.setFormatter(json_formatter())

    def atoms(self, resp, req, environ, request_time):
        """Return gunicorn's text-format atoms with secret-looking query values redacted (request line, query, URL)."""
        atoms = super().atoms(resp, req, environ, request_time)
        query = environ.get("QUERY_STRING", "")
        redacted = redact_query(query)
        if redacted != query:
            atoms["q"] = redacted
            atoms["r"] = atoms["r"].replace(query, redacted)
        return atoms

    def info(self, msg, *args, **kwargs):
        """Log at info level, naming the address in gunicorn's "Listening at" line.

        With ``reuse_port`` each worker opens its own socket and the arbiter none, so gunicorn would
        log "Listening at:  (pid)" with no address at all.
        """
        if msg.startswith("Listening at:") and args and args[0] == "":
            args = (",".join(f"http://{address}" for address in self.cfg.bind), *args[1:])
        super().info(msg, *args, **kwargs)

    def access(self, resp, req, environ, request_time):
        """Write one access log line: gunicorn's text format, or a JSON object with the request's fields."""
        if not self.json:
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return None
        try:
            self.access_log.info("request", extra=access_fields(resp, req, environ, request_time))
        except Exception:
            self.error(traceback.format_exc())
        return None


def print_warning(message):
    """Write a start-up warning in the configured log format to stderr."""
    if log_format(os.environ) == "json":
        record = logging.LogRecord("docs_proxy", logging.WARNING, __file__, 0, message, None, None)
        print(json_formatter().format(record), file=sys.stderr, flush=True)
    else:
        print(f"docs-proxy: warning: {message}", file=sys.stderr, flush=True)
