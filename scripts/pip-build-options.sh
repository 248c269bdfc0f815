# Sourced by container-check.sh and compose-check.sh: what a container build needs to run pip as this machine does.
#
# pip_build_options CERTS fills the array PIP_BUILD_OPTIONS with buildah options: the machine's certificate bundle
# (mounted read-only, not baked in) and its pip index settings (pip config or PIP_* variables) as build arguments;
# file:// indexes are mounted read-only at the same path, and ones that do not exist here are left out.
pip_build_options() {
    local certs=$1 key value url path variable
    local -a kept
    PIP_BUILD_OPTIONS=(-v "$certs:$certs:ro" --build-arg "PIP_CERT=$certs")
    for key in index-url extra-index-url find-links; do
        variable="PIP_$(echo "$key" | tr 'a-z-' 'A-Z_')"
        value=$(python3 -m pip config get "global.$key" 2>/dev/null || true)
        value=${value:-$(printenv "$variable" || true)}
        kept=()
        for url in $value; do
            path=${url#file://}
            if [ "$path" != "$url" ]; then
                [ -d "$path" ] || continue
                PIP_BUILD_OPTIONS+=(-v "$(dirname "$path"):$(dirname "$path"):ro")
            fi
            kept+=("$url")
        done
        if ((${#kept[@]})); then
            PIP_BUILD_OPTIONS+=(--build-arg "$variable=${kept[*]}")
        fi
    done
}
