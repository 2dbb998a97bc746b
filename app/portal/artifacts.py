"""Which granted artifacts S3 holds: one HEAD per artifact, its answer kept by each worker.

A presigned POST is granted before its file exists, and the file goes straight to S3: nothing in the
app hears when, or whether, it lands (S3 refuses a POST that breaks the signed policy, and a CI job
may never send it). So the index records the grant, and whoever lists a version's artifacts asks S3.
A present object stays listed: the answer is kept under the version's publish time, and only a
publish (which keeps artifacts) or a delete of the version removes one. An absent object is asked
about again after ``DOCS_ARTIFACT_RECHECK`` seconds, so a file shows that soon after it landed.
"""

import time

from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app

from ..exceptions import is_missing

ARTIFACTS = "portal.artifacts"
MAX_KEPT = 65536
# After S3 would not answer (throttled, unreachable), the artifact counts as absent this long: a page
# viewed again and again during S3 trouble must not send every HEAD again each time.
FAILURE_PAUSE = 5.0
# HEADs one request may send; artifacts past it are not listed until a later view has checked them.
HEADS_PER_REQUEST = 32


def is_settled(kept, now, recheck):
    """Tell whether a kept answer ``(present, checked_at)`` still stands at ``now``: present always, absent for ``recheck`` s."""
    if kept is None:
        return False
    present, checked = kept
    return present or now - checked < recheck


class ArtifactCheck:
    """Per worker: whether S3 holds each granted artifact, asked with a HEAD and kept (``is_settled``)."""

    def __init__(self, recheck, clock=time.monotonic):
        self.recheck = recheck
        self.clock = clock
        self.answers = {}
        self.failures = {}  # key -> when S3 last would not answer for it (FAILURE_PAUSE)

    def exists(self, s3, bucket, key, stamp, budget=None):
        """Tell whether S3 holds ``key`` (``stamp``: the version's publish time); ``None`` when S3 would not say.

        ``budget`` (a one-item list: HEADs left for this request) is spent by each HEAD; once it is
        gone, an unsettled artifact answers ``None`` without asking.
        """
        now = self.clock()
        kept = self.answers.get((key, stamp))
        if is_settled(kept, now, self.recheck):
            return kept[0]
        paused = self.failures.get(key)
        if paused is not None and now - paused < FAILURE_PAUSE:
            return None
        if budget is not None:
            if budget[0] <= 0:
                return None
            budget[0] -= 1
        try:
            s3.head_object(Bucket=bucket, Key=key)
            present = True
        except ClientError as error:
            if not is_missing(error):
                return self._failed(key, now)  # a throttled or failing S3 settles nothing
            present = False
        except BotoCoreError:
            return self._failed(key, now)
        if len(self.answers) >= MAX_KEPT:
            self.answers.clear()
        self.answers[(key, stamp)] = (present, now)
        self.failures.pop(key, None)
        return present

    def _failed(self, key, now):
        if len(self.failures) >= MAX_KEPT:
            self.failures.clear()
        self.failures[key] = now
        return None


def get_artifact_check(app=None):
    """Return the app's ``ArtifactCheck``."""
    return (app or current_app).extensions[ARTIFACTS]
