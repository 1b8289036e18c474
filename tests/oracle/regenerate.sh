#!/usr/bin/env bash
# Rebuild (cached) oracle venvs and regenerate tests/fixtures/<release>/ with the
# REAL legacy nam releases.
#   tests/oracle/regenerate.sh                 # the default release set
#   tests/oracle/regenerate.sh 0.7.4 0.5.1     # only these
# Needs NAM_UPSTREAM_REPO (a clone of sdatkinson/neural-amp-modeler) for
# 0.3.0/0.4.0/0.5.0; NAM_LEGACY_ORACLE_DIR chooses where the venvs live.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=${NAM_LEGACY_ORACLE_PYTHON:-python3.11}
if [ "$#" -gt 0 ]; then RELEASES=("$@"); else
  RELEASES=(0.3.0 0.4.0 0.5.0 0.5.1 0.5.2 0.6.0 0.7.0 0.7.4); fi
WORK=$(mktemp -d)  # run outside the repo so no local package shadows `nam`
trap 'rm -rf "$WORK"' EXIT
for r in "${RELEASES[@]}"; do
  venv_py=$("$PY" "$REPO/tests/oracle/envs.py" build "$r")
  (cd "$WORK" && "$venv_py" "$REPO/tests/oracle/make_fixtures.py" \
      --release "$r" --out "$REPO/tests/fixtures")
done
