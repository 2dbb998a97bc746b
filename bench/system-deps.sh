#!/usr/bin/env bash
# Installs the Debian packages the benchmarks drive (nginx, wrk, curl) and read (the -doc packages whose
# real Sphinx sites bench/search_quality.py searches) when missing.
set -euo pipefail
missing=()
# nginx lives in /usr/sbin, which a non-root PATH often lacks.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
for docs in python-django-doc python-sqlalchemy-doc sphinx-doc python-flask-doc; do
    [ -f "/usr/share/doc/$docs/html/objects.inv" ] || missing+=("$docs")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${EUID:-$(id -u)}" -ne 0 ]; then
    echo "make bench: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    echo "(nginx-light instead of nginx is enough)" >&2
    exit 1
fi
echo "make bench: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
packages=()
for package in "${missing[@]}"; do
    # Debian ships nginx-light on some releases and only nginx on others: take whichever has a candidate.
    if [ "$package" = nginx ]; then
        for candidate in nginx-light nginx; do
            if apt-cache policy "$candidate" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
                package=$candidate
                break
            fi
        done
    fi
    packages+=("$package")
done
if ! apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null; then
    echo "make bench: apt-get install ${packages[*]} failed" >&2
    exit 1
fi
