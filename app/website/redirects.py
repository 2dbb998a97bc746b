"""Redirect objects' policy lives with the serving code that answers them: ``app.serving.redirects``.

Kept so existing imports keep working; new code imports from ``app.serving.redirects``.
"""

from ..serving.redirects import URL_SAFE, BadRedirect, check_location, redirect_location  # noqa: F401
