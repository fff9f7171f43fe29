#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# python-venv.sh STACK_DIR: installs STACK_DIR/requirements.txt (exact versions, every file's
# hash, pip --require-hashes) into STACK_DIR/.venv, only when the venv is missing or was built
# from another requirements.txt. Python: $TB_PYTHON, else python3.11, else python3 (Debian
# bookworm's is 3.11; its venv module needs python3-venv, installed here when missing).
set -eu
dir=$(cd "$1" && pwd)
venv=$dir/.venv
stamp=$venv/.tracebridge-requirements
if cmp -s "$dir/requirements.txt" "$stamp" 2>/dev/null && [ -x "$venv/bin/python" ]; then
    exit 0
fi
py=${TB_PYTHON:-}
if [ -z "$py" ]; then
    py=python3
    command -v python3.11 >/dev/null 2>&1 && py=python3.11
fi
if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "deps: installing python3-venv (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
echo "deps: installing $(basename "$dir") Python stack (pip --require-hashes)"
rm -rf "$venv"
"$py" -m venv "$venv"
# Only what the lock file names, from the registry: no local wheel folders, no version check.
PIP_FIND_LINKS='' PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --quiet --no-input \
    --require-hashes --only-binary=:all: -r "$dir/requirements.txt"
cp "$dir/requirements.txt" "$stamp"
