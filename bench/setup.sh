#!/usr/bin/env bash
# Prepare everything `make bench` needs: Debian's wrk, and one virtual environment per peer server (and one for
# the harness) under bench/.venvs/, each from bench/peers/<name>/requirements.txt. Re-running only reinstalls
# an environment whose requirements file changed. The service, the Flask floor and the naive reference run from
# the project's own .venv (make's dev install).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk (Debian package)" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null
fi

for req in peers/*/requirements.txt; do
    name="$(basename "$(dirname "$req")")"
    venv=".venvs/$name"
    stamp="$venv/.installed-$(sha256sum "$req" | cut -c1-16)"
    [ -f "$stamp" ] && continue
    echo "bench: preparing $venv from $req (one-time, a few minutes)" >&2
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$req"
    touch "$stamp"
done
