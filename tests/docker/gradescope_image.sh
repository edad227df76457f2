#!/usr/bin/env bash
# make gradescope-docker-check [EXERCISE=batchnorm]: build one exercise's autograder.zip and run it
# the way Gradescope does, in Docker. The image: a fresh Ubuntu 22.04 (jammy) root made with
# debootstrap (Gradescope's base is Ubuntu 22.04), the zip unpacked in /autograder/source, setup.sh
# run there once as root with the network, run_autograder copied to /autograder/run_autograder, then
# `docker commit`ted as coursekit-gradescope-<id>. In containers of that image, as root, with
# Docker's default seccomp profile and capabilities (no CAP_SYS_ADMIN, so bubblewrap cannot run), no
# network and the container's memory the zip was built for, run_autograder grades:
#   the reference solution (full marks), the untouched stub (0), a file with a syntax error and a
#   misnamed file (0, with a message that says why),
# and every results.json must name the landlock sandbox tier. Prints setup.sh's time, the image's
# size, and each run's score, tier and wall time; exits 1 when an expectation fails.
#
# Unlike Gradescope's base image, the root starts without Python: setup.sh installs it with apt-get.
# PyTorch's CPU-only index may be unreachable here; setup.sh then falls back to the default index,
# whose (CUDA) build makes the image several GB larger than Gradescope's.
# GRADESCOPE_BASE=bookworm uses Debian 12 (Python 3.11) instead, where Ubuntu's archive is unreachable
# (image coursekit-gradescope-<id>-bookworm).
#
# Needs root, a running Docker daemon (Debian: apt-get install docker.io; dockerd --bridge=none
# --iptables=false &) and debootstrap (installed here with apt-get when missing). The base root is
# cached as the image coursekit-gradescope-base-<suite>: `docker rmi` it to rebuild it.
#   bash tests/docker/gradescope_image.sh [EXERCISE]     (default batchnorm)
# Environment: GRADESCOPE_MEMORY_MB (6144: the container's memory, passed to the build as --memory),
# GRADESCOPE_BASE (jammy or bookworm), KEEP_WORK=1 keeps the work folder (zip, submissions, results).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON="$ROOT/.venv/bin/python"
EXERCISE=${1:-batchnorm}
MEMORY_MB=${GRADESCOPE_MEMORY_MB:-6144}
SUITE=${GRADESCOPE_BASE:-jammy}
BASE_IMAGE=coursekit-gradescope-base-$SUITE
IMAGE=coursekit-gradescope-$EXERCISE
[ "$SUITE" = jammy ] || IMAGE+="-$SUITE"
# Ubuntu's archive is served over HTTP: the 2018 archive signing key that signs jammy is checked
# against its published fingerprint before debootstrap trusts it.
UBUNTU_MIRROR=http://archive.ubuntu.com/ubuntu
UBUNTU_KEYRING_DEB=$UBUNTU_MIRROR/pool/main/u/ubuntu-keyring/ubuntu-keyring_2021.03.26_all.deb
UBUNTU_ARCHIVE_KEY=F6ECB3762474EDA9D21B7022871920D1991BC93C

die() { echo "error: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and docker need it)"
docker info >/dev/null 2>&1 || die "no Docker daemon answers; start one: dockerd --bridge=none --iptables=false &"
[ -x "$PYTHON" ] || die "run 'make setup' first ($PYTHON is missing)"
[ -f "$ROOT/solutions/$EXERCISE/$EXERCISE.py" ] || die "no exercise $EXERCISE (solutions/$EXERCISE/$EXERCISE.py)"
case "$SUITE" in jammy|bookworm) ;; *) die "GRADESCOPE_BASE is jammy or bookworm, not $SUITE" ;; esac

WORK=$(mktemp -d /tmp/gradescope-image.XXXXXX)
CONTAINERS=()
cleanup() {
  for name in "${CONTAINERS[@]}"; do docker rm -f "$name" >/dev/null 2>&1 || true; done
  if [ "${KEEP_WORK:-}" = 1 ]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

debian_mirror() {   # the Debian mirror this host's apt uses
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list |
        grep -E '/debian/?( |$)' | head -1 | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//')
  echo "${uri:-http://deb.debian.org/debian}"
}

ubuntu_keyring() {  # writes the verified jammy archive key to $1
  local dir="$WORK/keyring"
  mkdir -p "$dir/gnupg"
  chmod 700 "$dir/gnupg"
  curl -fsS -m 120 -o "$dir/keyring.deb" "$UBUNTU_KEYRING_DEB"
  dpkg-deb -x "$dir/keyring.deb" "$dir/x"
  GNUPGHOME="$dir/gnupg" gpg -q --import "$dir/x/usr/share/keyrings/ubuntu-archive-keyring.gpg" 2>/dev/null
  GNUPGHOME="$dir/gnupg" gpg -q --export "$UBUNTU_ARCHIVE_KEY" > "$1"
  GNUPGHOME="$dir/gnupg" gpg --show-keys --with-colons "$1" 2>/dev/null | grep -q "^fpr:*$UBUNTU_ARCHIVE_KEY:" ||
    die "Ubuntu's keyring package holds no key $UBUNTU_ARCHIVE_KEY"
}

build_base() {
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null ||
    die "debootstrap is missing (apt-get install debootstrap)"
  local root="$WORK/root" sources
  echo "== building the base image $BASE_IMAGE with debootstrap (once; minutes)"
  if [ "$SUITE" = jammy ]; then
    ubuntu_keyring "$WORK/ubuntu-archive.gpg"
    debootstrap --variant=minbase --keyring="$WORK/ubuntu-archive.gpg" jammy "$root" "$UBUNTU_MIRROR" \
      > "$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
    # As in the ubuntu:22.04 image: every component, the updates and the security archive.
    sources="deb $UBUNTU_MIRROR jammy main restricted universe multiverse
deb $UBUNTU_MIRROR jammy-updates main restricted universe multiverse
deb http://security.ubuntu.com/ubuntu jammy-security main restricted universe multiverse"
  else
    local mirror
    mirror=$(debian_mirror)
    debootstrap --variant=minbase bookworm "$root" "$mirror" > "$WORK/debootstrap.log" 2>&1 ||
      { tail -20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
    sources="deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian*}/debian-security bookworm-security main"
  fi
  echo "$sources" > "$root/etc/apt/sources.list"
  # As in the registry's images: no package lists, so the first apt-get install needs an update.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  mkdir -p "$root/autograder"
  tar -C "$root" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
}

seconds_since() { echo "$(( ($(date +%s%N) - $1) / 1000000 ))" | sed -E 's/([0-9]{3})$/.\1/; s/^\./0./'; }

docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || build_base

echo "== the autograder.zip of $EXERCISE (container memory $MEMORY_MB MB)"
"$PYTHON" -m coursekit gradescope "$EXERCISE" --out "$WORK/zips" --memory "$MEMORY_MB"
unzip -q "$WORK/zips/$EXERCISE/autograder.zip" -d "$WORK/source"

echo "== setup.sh in a container of $BASE_IMAGE (as root, with the network), committed as $IMAGE"
builder="coursekit-gradescope-build-$$"
CONTAINERS+=("$builder")
# This host reaches PyPI through a TLS proxy whose certificate its own bundle holds: pip in the
# container is given that bundle (PIP_CERT, read-only), as on this host. Nothing else differs.
host_ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
docker create --name "$builder" --network host -v "$host_ca:/etc/coursekit-host-ca.crt:ro" \
  -e PIP_CERT=/etc/coursekit-host-ca.crt "$BASE_IMAGE" \
  bash -c 'bash /autograder/source/setup.sh && cp /autograder/source/run_autograder /autograder/run_autograder' >/dev/null
docker cp "$WORK/source" "$builder:/autograder/source"
start=$(date +%s%N)
if ! docker start -a "$builder" > "$WORK/setup.log" 2>&1; then
  tail -30 "$WORK/setup.log"
  die "setup.sh failed (its log above)"
fi
setup_seconds=$(seconds_since "$start")
grep -E '^(Python|torch) ' "$WORK/setup.log" || true
docker rmi "$IMAGE" >/dev/null 2>&1 || true
docker commit "$builder" "$IMAGE" >/dev/null
docker rm "$builder" >/dev/null
image_bytes=$(docker image inspect --format '{{.Size}}' "$IMAGE")
echo "setup.sh: ${setup_seconds} s (container start included); image $IMAGE: $image_bytes bytes" \
     "($(( image_bytes / 1000000 )) MB)"

# submissions: one folder each, as the student uploaded it
mkdir -p "$WORK/sub/solution" "$WORK/sub/stub" "$WORK/sub/syntax-error" "$WORK/sub/misnamed"
cp "$ROOT/solutions/$EXERCISE/$EXERCISE.py" "$WORK/sub/solution/"
cp "$ROOT/assignments/$EXERCISE/$EXERCISE.py" "$WORK/sub/stub/"
{ cat "$ROOT/solutions/$EXERCISE/$EXERCISE.py"; printf '\ndef unfinished(:\n'; } > "$WORK/sub/syntax-error/$EXERCISE.py"
cp "$ROOT/solutions/$EXERCISE/$EXERCISE.py" "$WORK/sub/misnamed/${EXERCISE}_final.py"

failures=0
grade() {  # grade NAME EXPECTATION: run_autograder on sub/NAME in a fresh container of $IMAGE
  local name=$1 expect=$2 container="coursekit-gradescope-run-$$-$1" start seconds
  CONTAINERS+=("$container")
  docker create --name "$container" --network none --memory "${MEMORY_MB}m" "$IMAGE" /autograder/run_autograder >/dev/null
  docker cp "$WORK/sub/$name" "$container:/autograder/submission"
  start=$(date +%s%N)
  docker start -a "$container" > "$WORK/$name.log" 2>&1 || true
  seconds=$(seconds_since "$start")
  mkdir -p "$WORK/results/$name"
  docker cp "$container:/autograder/results/results.json" "$WORK/results/$name/results.json" 2>/dev/null || true
  docker rm "$container" >/dev/null
  if ! "$PYTHON" - "$WORK/results/$name/results.json" "$expect" "$name" "$seconds" "$EXERCISE" <<'PY'
import json
import sys

path, expect, name, seconds, exercise = sys.argv[1:]
try:
    results = json.load(open(path))
except (OSError, ValueError) as error:
    print(f"{name:13} no results.json ({error})")
    sys.exit(1)
score, max_score = results.get("score"), results.get("max_score")
isolation = results.get("extra_data", {}).get("sandbox", {}).get("isolation")
output = results.get("output", "") + "\n" + "\n".join(test.get("output", "") for test in results.get("tests", []))


def number(value):
    return "?" if value is None else format(value, "g")


print(f"{name:13} score {number(score)} / {number(max_score)}, "
      f"sandbox {isolation}, run_autograder {seconds} s (container start included)")
problems = []
if isolation != "landlock":
    problems.append(f"sandbox tier {isolation!r}, not 'landlock'")
if expect == "full" and not (max_score and score == max_score):
    problems.append("the reference solution lost points: "
                    + "; ".join(t["name"] for t in results.get("tests", []) if t.get("status") != "passed"))
if expect != "full" and score != 0:
    problems.append(f"expected 0 points, got {score}")
wanted = {"syntax": "SyntaxError", "misnamed": f"no file named {exercise}.py"}.get(expect)
if wanted:
    lines = [line.strip() for line in output.splitlines() if wanted in line]
    if lines:
        print(f"{'':13} message: {lines[0][:200]}")
    else:
        problems.append(f"no message says {wanted!r}")
for problem in problems:
    print(f"{'':13} FAIL: {problem}")
sys.exit(1 if problems else 0)
PY
  then
    failures=$((failures + 1))
    echo "--- the last lines run_autograder printed ($name)"
    tail -15 "$WORK/$name.log"
  fi
}

echo "== run_autograder in containers of $IMAGE (as root, Docker's default profile, no network)"
grade solution full
grade stub zero
grade syntax-error syntax
grade misnamed misnamed

df -h / | tail -1 | awk '{print "disk: " $4 " free on /"}'
if [ "$failures" -gt 0 ]; then
  echo "FAILED: $failures of 4 gradings did not meet their expectations"
  exit 1
fi
echo "OK: the image $IMAGE grades as expected (kept; docker rmi $IMAGE to remove it)"
