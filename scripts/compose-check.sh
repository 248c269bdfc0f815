#!/usr/bin/env bash
# Bring deploy/compose.yaml up with Debian's podman-compose, check it from a client's side, and take it down.
#
# The stack runs exactly as the compose file says, on podman-compose's default bridge network (netavark, with
# aardvark-dns resolving the service names nginx and the replicas use), but inside a private network namespace made
# for the check (unshare --net): netavark's firewall rules, its bridge and the ip_forward switch are made there and
# vanish with it, so the machine's own firewall is never touched. The check's client runs in that namespace too:
# it reaches nginx on the published port and each replica on its bridge address, as a host would.
#
# Checks, through nginx unless said: /readyz of nginx and of each replica; digit classifications (every answer a
# digit, both replicas counted some in their /metrics); hot reload (a version written into the shared models volume
# by a separate container is served by both replicas); with the trainer, a tiny training job queued through
# /api/v1/train, run by the trainer via Redis, its version served by both replicas; a replica stopped (SIGTERM)
# while clients keep classifying, with no request lost. Everything is removed at the end (containers, volumes,
# network), whatever happens.
#
# Reuses the service image scripts/container-check.sh builds (runs that script when the image is missing) and its
# image storage; builds the nginx, Redis and trainer images with buildah (cached layers).
# Environment: CONTAINER_CACHE (as container-check), CLASSIFIER_COMPOSE_PORT (nginx's published port, 8080),
#              COMPOSE_CHECK_TRAINER (1: build the trainer image and run a training job; 0: leave the trainer out),
#              CLASSIFIER_TRAINING_DATA (folder with mnist/mnist.npz; default ../shared/data beside the repository).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${CONTAINER_CACHE:-/var/tmp/classification-ci-cache}
WORK="$CACHE/compose"
PROJECT=classifier-check
COMPOSE=(podman-compose -p "$PROJECT" -f "$REPO/deploy/compose.yaml")
IMAGE=localhost/classification_app:ci
TRAINER=${COMPOSE_CHECK_TRAINER:-1}
export CLASSIFIER_COMPOSE_PORT=${CLASSIFIER_COMPOSE_PORT:-8080}
# The replicas' admin token: training through nginx needs one (the replicas see nginx's address, not loopback).
export CLASSIFIER_ADMIN_TOKEN=${CLASSIFIER_ADMIN_TOKEN:-$(python3 -c 'import secrets; print(secrets.token_hex(16))')}
export CLASSIFIER_TRAINING_DATA=${CLASSIFIER_TRAINING_DATA:-$(cd "$REPO/.." && pwd)/shared/data}
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$CACHE/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$CACHE/registries.conf" TMPDIR="$CACHE/tmp"
export COMPOSE_CHECK_START=${COMPOSE_CHECK_START:-$(date +%s)}  # kept across the re-run in the private namespace
START=$COMPOSE_CHECK_START

say() { printf '[compose-check %4ds] %s\n' "$(($(date +%s) - START))" "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
probe() { python3 "$REPO/scripts/compose_probe.py" "$@"; }

if [ "${1:-}" != "--in-private-network" ]; then
    # --- tools -------------------------------------------------------------------------------------------------
    need=()
    for tool in podman buildah runc podman-compose netavark aardvark-dns iptables ip unshare; do
        command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/lib/podman/$tool" ] || need+=("$tool")
    done
    if ((${#need[@]})); then
        say "installing what provides ${need[*]} (apt)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq podman buildah runc podman-compose netavark aardvark-dns iptables iproute2 \
            util-linux slirp4netns fuse-overlayfs uidmap >&2
    fi

    # --- the service image: container-check's, built by it when missing ------------------------------------------
    if [ ! -f "$CONTAINERS_STORAGE_CONF" ] || ! CONTAINERS_CONF="$CACHE/containers.conf" podman image exists "$IMAGE"; then
        say "no $IMAGE yet: running scripts/container-check.sh to build it"
        bash "$REPO/scripts/container-check.sh"
    fi
    # Private configuration: container-check's storage; the network definitions kept in the cache, not in /etc;
    # open-file limits the machine grants (podman's default asks for more than some sandboxes allow).
    mkdir -p "$WORK/networks"
    cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$CACHE/run/events.log"
tmp_dir = "$CACHE/run/libpod"
[network]
network_config_dir = "$WORK/networks"
EOF

    # --- the other images: buildah, host network for their package downloads, cached layers ----------------------
    build() {  # build TAG CONTEXT CONTAINERFILE [buildah options]
        local tag=$1 context=$2 file=$3 started=$SECONDS
        shift 3
        buildah build --isolation chroot --pull=never --layers --format docker "$@" -f "$file" -t "$tag" "$context" \
            >"$WORK/build-${tag##*/}.log" 2>&1 \
            || { tail -30 "$WORK/build-${tag##*/}.log" >&2; fail "building $tag failed (log: $WORK/build-${tag##*/}.log)"; }
        say "image $tag ready in $((SECONDS - started))s ($(podman image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec))"
    }
    build localhost/classifier-nginx:ci "$REPO/deploy" "$REPO/deploy/nginx/Containerfile"
    build localhost/classifier-redis:ci "$REPO/deploy" "$REPO/deploy/redis/Containerfile"
    if [ "$TRAINER" = 1 ]; then
        if [ ! -f "$CLASSIFIER_TRAINING_DATA/mnist/mnist.npz" ]; then
            say "SKIPPING the trainer: no $CLASSIFIER_TRAINING_DATA/mnist/mnist.npz (set CLASSIFIER_TRAINING_DATA)"
            TRAINER=0
        else
            # pip inside the build as in container-check: the machine's certificates and index settings.
            # shellcheck source=scripts/pip-build-options.sh
            . "$REPO/scripts/pip-build-options.sh"
            pip_build_options /etc/ssl/certs/ca-certificates.crt
            build localhost/classification_app-trainer:ci "$REPO" "$REPO/deploy/trainer/Containerfile" "${PIP_BUILD_OPTIONS[@]}"
        fi
    fi
    podman image prune -f >/dev/null 2>&1 || true  # earlier builds' untagged images would pile up in the cache
    export COMPOSE_CHECK_TRAINER=$TRAINER
    say "entering a private network namespace for the stack"
    exec unshare --net -- bash "$0" --in-private-network
fi

# --- inside the private network namespace ----------------------------------------------------------------------
ip link set lo up
services=(redis classifier-1 classifier-2 nginx)
[ "$TRAINER" = 1 ] && services+=(trainer)
container() { echo "${PROJECT}_$1_1"; }

down() {
    "${COMPOSE[@]}" down -v >>"$WORK/down.log" 2>&1 || true
    podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}' 2>/dev/null \
        | while read -r name; do podman rm -f "$name" >/dev/null 2>&1 || true; done
    podman volume ls --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Name}}' 2>/dev/null \
        | while read -r name; do podman volume rm -f "$name" >/dev/null 2>&1 || true; done
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
}
logs() {
    for service in "${services[@]}"; do
        say "--- last lines of $service's log"
        podman logs "$(container "$service")" 2>&1 | tail -15 >&2 || true
    done
}
finish() {
    status=$?
    ((status)) && logs
    down
    left=$(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}' 2>/dev/null || true)
    [ -z "$left" ] || say "WARNING: containers left behind: $left"
    if ((status == 0)); then
        say "PASS: stack up, checked through nginx, taken down (containers, volumes and network removed)"
    fi
    exit "$status"
}
trap finish EXIT
trap 'say "FAIL: interrupted"; exit 130' INT
trap 'say "FAIL: terminated"; exit 143' TERM
trap 'say "FAIL: unexpected error (exit $?) at line $LINENO"' ERR

: >"$WORK/down.log"
down  # whatever an interrupted earlier run left
up_start=$(date +%s)
"${COMPOSE[@]}" up -d "${services[@]}" >"$WORK/up.log" 2>&1 || { tail -30 "$WORK/up.log" >&2; fail "podman-compose up failed"; }
# podman-compose 1.0 carries on when a container fails to start: look at each one.
for service in "${services[@]}"; do
    state=$(podman inspect --format '{{.State.Status}}' "$(container "$service")" 2>/dev/null || echo missing)
    [ "$state" = running ] || { tail -30 "$WORK/up.log" >&2; fail "$service is $state after podman-compose up"; }
done
say "podman-compose up: ${services[*]} running ($(($(date +%s) - up_start))s)"

address() { podman inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(container "$1")"; }
NGINX="http://127.0.0.1:$CLASSIFIER_COMPOSE_PORT"
R1="http://$(address classifier-1):8080" R2="http://$(address classifier-2):8080"
DIGIT="$REPO/test-data/unseen/unseen-041.png"
[ -f "$DIGIT" ] || DIGIT=$(find "$REPO/test-data" -name '*.png' -not -path '*broken*' | sort | sed -n 1p)
say "nginx on $NGINX; replicas at $R1 and $R2"

probe ready "$NGINX" "$R1" "$R2" || fail "the stack never became ready"
say "ready after $(($(date +%s) - up_start))s"
probe spread --nginx "$NGINX" --replica "$R1" --replica "$R2" --image "$DIGIT" --requests 40 \
    || fail "classification through nginx"

# Hot reload: a separate container (as the trainer would) writes the next version into the shared volume the way
# the service publishes (a hidden folder, then a rename); both replicas must serve it.
next=$(podman run --rm --network none --no-healthcheck --entrypoint sh -v "${PROJECT}_models:/app/models" "$IMAGE" -c '
    set -e; cd /app/models/mnist
    last=$(ls | grep -E "^[0-9]+$" | sort -n | tail -1)
    cp -a "$last" .tmp-compose-check && mv .tmp-compose-check $((last + 1)) && echo $((last + 1))') \
    || fail "could not write a version into the models volume as the service user"
say "wrote mnist version $next into the ${PROJECT}_models volume"
probe version --replica "$R1" --replica "$R2" --image "$DIGIT" --version "$next" || fail "hot reload"

if [ "$TRAINER" = 1 ]; then
    trained=$(probe train --nginx "$NGINX" --token "$CLASSIFIER_ADMIN_TOKEN") || fail "training job through nginx and the trainer"
    probe version --replica "$R1" --replica "$R2" --image "$DIGIT" --version "$trained" \
        || fail "the trained version is not served by both replicas"
fi

probe failover --nginx "$NGINX" --image "$DIGIT" --clients 4 --before 3 --after 3 \
    --stop podman stop -t 30 "$(container classifier-2)" || fail "stopping a replica under load"
probe ready "$NGINX" --timeout 10 || fail "nginx not ready with one replica"
say "checks passed in $(($(date +%s) - up_start))s from podman-compose up"
