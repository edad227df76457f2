#!/usr/bin/env bash
# make docker-check: grade in a real Docker container, as Gradescope runs an autograder: as root,
# Docker's default seccomp profile and capabilities (no CAP_SYS_ADMIN, so bubblewrap cannot run),
# no network. Checks that the kit picks the landlock tier, gives the reference full marks, and
# that every red-team attack is handled there; then times one full grading in the container
# against the same grading with bubblewrap outside it.
#
# Needs a running Docker daemon (Debian: apt-get install docker.io; dockerd --bridge=none
# --iptables=false &). The image needs no registry: an empty root, with this host's /usr, /etc
# and Python bind-mounted read-only, and the repository (with its .venv) at the same path.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON="$ROOT/.venv/bin/python"
IMAGE=coursekit-empty-root
docker info >/dev/null 2>&1 || {
  echo "error: no Docker daemon answers; start one: dockerd --bridge=none --iptables=false &" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "error: run 'make setup' first ($PYTHON is missing)" >&2; exit 2; }

mounts=(-v /usr:/usr:ro -v /etc:/etc:ro)
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  empty=$(mktemp -d)
  mkdir -p "$empty"/{usr,etc,proc,dev,sys,root,tmp,var/tmp}
  chmod 1777 "$empty/tmp" "$empty/var/tmp"
  for dir in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$dir" ]; then ln -s "$(readlink "/$dir")" "$empty/$dir"; fi
  done
  tar -C "$empty" -c . | docker import - "$IMAGE" >/dev/null
  rm -rf "$empty"
fi
for dir in bin sbin lib lib32 lib64 libx32; do
  if [ -d "/$dir" ] && [ ! -L "/$dir" ]; then mounts+=(-v "/$dir:/$dir:ro"); fi
done
base=$("$PYTHON" -c 'import os, sys; print(os.path.realpath(sys.base_prefix))')
case "$base" in /usr|/usr/*) ;; *) mounts+=(-v "$base:$base:ro") ;; esac
mounts+=(-v "$ROOT:$ROOT")

in_container() {
  docker run --rm --network none "${mounts[@]}" -w "$ROOT" -e CI="${CI:-}" -e HOME=/tmp "$IMAGE" "$@"
}

echo "== the reference, graded in the container (as root, Docker's default profile, no network)"
in_container "$PYTHON" -m pytest autograder --solutions -q -p no:cacheprovider \
  --results-json "$ROOT/.docker-check-results.json" | tail -12
"$PYTHON" - "$ROOT/.docker-check-results.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
sandbox = results["extra_data"]["sandbox"]
print("sandbox:", sandbox["isolation"], "|", "; ".join(sandbox["layers"]))
assert sandbox["isolation"] == "landlock", sandbox
assert results["score"] == results["max_score"] > 0, (results["score"], results["max_score"])
print(f"score: {results['score']:g} / {results['max_score']:g}")
PY
rm -f "$ROOT/.docker-check-results.json"

echo "== the red-team suite, graded in the container"
in_container env KIT_RED_TEAM_TIERS=landlock-here "$PYTHON" -m pytest tests/test_red_team.py -q -p no:cacheprovider | tail -3

echo "== what the tier costs: one full grading of the reference, wall seconds"
inside=$( { /usr/bin/time -f %e docker run --rm --network none "${mounts[@]}" -w "$ROOT" -e HOME=/tmp "$IMAGE" \
  "$PYTHON" -m pytest autograder --solutions -q -p no:cacheprovider >/dev/null; } 2>&1 | tail -1)
outside=$( { /usr/bin/time -f %e "$PYTHON" -m pytest autograder --solutions -q -p no:cacheprovider \
  --sandbox bubblewrap >/dev/null; } 2>&1 | tail -1)
echo "landlock tier in Docker: ${inside} s (container start included); bubblewrap on this host: ${outside} s"
