#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the python-adot stack (tests/stacks/python-adot/requirements.txt) into .venv, only when missing.
exec "$(dirname "$0")/../lib/python-venv.sh" "$(dirname "$0")"
