"""Upload tokens: made once, stored as a hash in the bucket, scoped to project globs and actions, expiring.

A token reads ``dpt_<id>_<secret>``: ``id`` (16 hex digits) names its record, ``<S3_PREFIX>.docs-tokens/<id>.json``
(a ``.docs-`` key, which the proxy never serves or lists); ``secret`` (256 random bits) is never stored,
only its SHA-256. A fast hash is enough for a random secret of that size (nothing to brute-force), and
the comparison is constant-time. Revoking deletes the record, so the next request with it gets a 401.
"""

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from .policy import matches_project

TOKENS_FOLDER = ".docs-tokens/"
TOKEN_PATTERN = re.compile(r"dpt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
FORMAT = 1


@dataclass(frozen=True)
class TokenRecord:
    """What the bucket keeps of a token: never the token itself."""

    id: str
    sha256: str
    projects: tuple
    actions: tuple
    created: str
    expires: str
    note: str = ""

    def is_expired(self, now):
        """Tell whether the token has expired at ``now`` (an aware ``datetime``)."""
        return datetime.fromisoformat(self.expires) <= now

    def allows(self, project, action):
        """Tell whether the token may do ``action`` on ``project``."""
        return action in self.actions and matches_project(self.projects, project)


def token_key(prefix, token_id):
    """Return the key of a token's record under ``S3_PREFIX`` ``prefix``."""
    return f"{prefix}{TOKENS_FOLDER}{token_id}.json"


def digest(secret):
    """Return the stored form of a token's secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(text):
    """Return ``(id, secret)`` of a token's text, or ``None`` when it is not shaped like one."""
    match = TOKEN_PATTERN.fullmatch((text or "").strip())
    return (match.group(1), match.group(2)) if match else None


def secret_matches(record, secret):
    """Tell, in constant time, whether ``secret`` is the one ``record`` was made for."""
    return hmac.compare_digest(record.sha256, digest(secret))


def encode_record(record):
    """Return the bytes of a token record."""
    return json.dumps({"format": FORMAT, **asdict(record)}, sort_keys=True).encode()


def decode_record(data):
    """Return the ``TokenRecord`` in ``data``, or ``None`` when it is not one (fail closed)."""
    try:
        document = json.loads(data)
        if document.pop("format") != FORMAT:
            return None
        record = TokenRecord(**document)
        datetime.fromisoformat(record.expires)
        return TokenRecord(**{**asdict(record), "projects": tuple(record.projects), "actions": tuple(record.actions)})
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def utc_now():
    """Return the current time, aware, in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def create_token(s3, bucket, prefix, projects, actions, expires_in, note="", now=None):
    """Store a new token's record and return ``(record, token)``; the token is shown once and never again."""
    now = now or utc_now()
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    record = TokenRecord(
        id=token_id, sha256=digest(secret), projects=tuple(projects), actions=tuple(actions),
        created=now.isoformat(), expires=(now + expires_in).isoformat(), note=note,
    )
    s3.put_object(Bucket=bucket, Key=token_key(prefix, token_id), Body=encode_record(record),
                  ContentType="application/json", CacheControl="no-store", IfNoneMatch="*")
    return record, f"dpt_{token_id}_{secret}"


def load_token(s3, bucket, prefix, token_id):
    """Return the record of token ``token_id``, or ``None`` when there is none (revoked, or never made)."""
    try:
        response = s3.get_object(Bucket=bucket, Key=token_key(prefix, token_id))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    with response["Body"] as body:
        return decode_record(body.read(64 * 1024))


def list_tokens(s3, bucket, prefix):
    """Return every token record in the bucket, oldest first."""
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + TOKENS_FOLDER):
        for item in page.get("Contents", ()):
            token_id = item["Key"][len(prefix + TOKENS_FOLDER):].removesuffix(".json")
            record = load_token(s3, bucket, prefix, token_id)
            if record is not None:
                records.append(record)
    return sorted(records, key=lambda record: record.created)


def any_tokens(s3, bucket, prefix):
    """Tell whether any token exists (the upload API is off until one does)."""
    response = s3.list_objects_v2(Bucket=bucket, Prefix=prefix + TOKENS_FOLDER, MaxKeys=1)
    return bool(response.get("Contents"))


def revoke_token(s3, bucket, prefix, token_id):
    """Delete token ``token_id``'s record; return whether there was one."""
    if not re.fullmatch(r"[0-9a-f]{16}", token_id or "") or load_token(s3, bucket, prefix, token_id) is None:
        return False
    s3.delete_object(Bucket=bucket, Key=token_key(prefix, token_id))
    return True
