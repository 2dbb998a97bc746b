#!/bin/sh
# Publish a built docs folder to docs-proxy's upload API with nothing but tar, curl and a token.
#
#   DOCS_URL=https://docs.example.com DOCS_TOKEN=dpt_... publish-docs.sh PROJECT VERSION BUILD_DIR [QUERY]
#
# QUERY adds options named like `flask docs publish`'s: "alias=stable&title=Payments". Set
# DOCS_PREVIEW_EXPIRES (e.g. 14d) to publish VERSION as a preview (a pull request) instead.
# The archive is streamed (curl -T - sends it chunked as tar writes it); the JSON summary is printed,
# and curl exits non-zero on any refusal, with docs-proxy's reason on stderr.
set -eu

if [ $# -lt 3 ]; then
    echo "usage: DOCS_URL=... DOCS_TOKEN=... $0 PROJECT VERSION BUILD_DIR [QUERY]" >&2
    exit 2
fi
: "${DOCS_URL:?set DOCS_URL to the docs-proxy address}"
: "${DOCS_TOKEN:?set DOCS_TOKEN to an upload token (flask docs token create)}"
project=$1 version=$2 build=$3 query=${4:-}

if [ -n "${DOCS_PREVIEW_EXPIRES:-}" ]; then
    url="$DOCS_URL/_/api/projects/$project/previews/$version?expires=$DOCS_PREVIEW_EXPIRES${query:+&$query}"
else
    url="$DOCS_URL/_/api/projects/$project/versions/$version${query:+?$query}"
fi

# The token reaches curl through a config on descriptor 3, never its command line (which ps shows).
tar -C "$build" -czf - . | curl --fail-with-body --silent --show-error \
    --config /dev/fd/3 -T - -H "Content-Type: application/gzip" "$url" 3<<CONFIG
header = "Authorization: Bearer $DOCS_TOKEN"
CONFIG
