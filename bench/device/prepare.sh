#!/bin/bash
# Here, before a device run: the project as a wheel in .whl/ (the device image
# has torch, h5py, typer, rich, pluggy and pillow, but neither dgan nor a build
# backend). .whl/ is kept out of git through .git/info/exclude.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
"${PYTHON:-.venv/bin/python}" -m pip wheel -q --no-deps -w .whl .
ls -l .whl
