"""nginx for the serving benchmark: a static backend that answers like path-style S3, and a reverse proxy."""

import os
import shutil
import subprocess
from pathlib import Path

# Paths nginx would otherwise take from its build (/var/lib/nginx, /var/log/nginx): a temp prefix
# keeps a benchmark run from touching, or needing, the system's nginx directories.
COMMON = """\
daemon off;
master_process on;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
{body}
}}
"""

# S3 answers a GET with the object's stored checksum when the client asks for it (botocore does by
# default) and the object was uploaded with one, as current SDKs do; never for a Range, whose bytes
# would not match it, nor on a 304. The maps send it only on a whole-object 200, as S3 does: botocore
# validates it then, and fails to parse a 304 that carries one.
BACKEND = """\
    types {{
        text/html html;
        text/css css;
        text/plain txt;
        application/javascript js;
        application/octet-stream bin;
    }}
    default_type binary/octet-stream;
    map "$status:$http_range" $checksum_page {{ "200:" "{page_crc32}"; default ""; }}
    map "$status:$http_range" $checksum_big {{ "200:" "{big_crc32}"; default ""; }}
    map "$status:$http_range" $checksum_type {{ "200:" "{checksum_type}"; default ""; }}
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        root {root};
        location = /{bucket}/{page_key} {{
            add_header x-amz-checksum-crc32 $checksum_page;
            add_header x-amz-checksum-type $checksum_type;
        }}
        location = /{bucket}/{big_key} {{
            add_header x-amz-checksum-crc32 $checksum_big;
            add_header x-amz-checksum-type $checksum_type;
        }}
    }}
"""

# What a deployment in front of S3 would run: buffered proxying over kept-alive upstream connections.
# proxy_max_temp_file_size 0: buffers in memory only, as one sets for large downloads; with the default
# (1 GiB) nginx spools a 512 MiB body to disk whenever the client lags, doubling its CPU per byte.
PROXY = """\
    upstream backend {{
        server 127.0.0.1:{backend_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        location /docs/ {{
            proxy_pass http://backend/{bucket}/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
            proxy_buffer_size 64k;
            proxy_buffers 16 64k;
            proxy_busy_buffers_size 128k;
            proxy_max_temp_file_size 0;
        }}
    }}
"""


def find_nginx():
    """Return the nginx executable, or raise naming the package that provides it."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if path is None:
        raise RuntimeError("nginx is not installed: run bench/system-deps.sh (Debian package nginx-light)")
    return path


def backend_config(prefix, port, root, bucket, page_key, big_key, page_crc32="", big_crc32="", workers=2):
    """Return the configuration of the static backend that serves ``root/bucket/key`` like path-style S3."""
    body = BACKEND.format(
        port=port,
        root=root,
        bucket=bucket,
        page_key=page_key,
        big_key=big_key,
        page_crc32=page_crc32,
        big_crc32=big_crc32,
        checksum_type="FULL_OBJECT" if page_crc32 or big_crc32 else "",
    )
    return COMMON.format(prefix=prefix, workers=workers, body=body)


def proxy_config(prefix, port, backend_port, bucket, workers=2):
    """Return the configuration of the reverse proxy that maps ``/docs/`` onto the backend's bucket."""
    body = PROXY.format(port=port, backend_port=backend_port, bucket=bucket)
    return COMMON.format(prefix=prefix, workers=workers, body=body)


def start_nginx(prefix, config_text, log_path):
    """Start nginx in the foreground with its own prefix and configuration; return the process."""
    prefix = Path(prefix)
    prefix.mkdir(parents=True, exist_ok=True)
    # Started as root, nginx's workers run as nobody: they must be able to enter the prefix.
    prefix.chmod(0o755)
    config_path = prefix / "nginx.conf"
    config_path.write_text(config_text)
    with open(log_path, "wb") as log:
        # -e: the error log before the configuration is read, else nginx first opens its built-in path.
        return subprocess.Popen(
            [find_nginx(), "-p", str(prefix), "-c", str(config_path), "-e", str(prefix / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

