#!/usr/bin/env bash
# Builds or installs the real servers the integration tests run and the tools that check the
# deployment files (once per machine), and prints their paths.
set -euo pipefail
shopt -s inherit_errexit

usage() {
    cat >&2 <<'EOF'
usage: scripts/ensure-infra.sh livekit-server|otelcol|helm|prometheus|promtool|espeak-ng|redis-server|all

Prints the absolute path of the requested binary on stdout, building or installing it first
if it is not cached yet (progress goes to stderr). "all" prepares everything and prints only
a summary on stderr.

Environment:
  LKAW_INFRA_CACHE  cache root (default: $HOME/.cache/livekit-agent-worker)
EOF
}

readonly LIVEKIT_VERSION=v1.13.5
# Keep in step with every module version in deploy/collector/builder-config.yaml.
readonly OCB_VERSION=v0.161.0
# The chart is checked with it (make test-helm); deploy/helm/validate pins the same k8s.io
# modules, so the two builds share the Go build cache.
readonly HELM_VERSION=v4.3.2
# A lock holder may be mid-build (several minutes on a cold Go cache), so wait generously.
readonly LOCK_WAIT_SECONDS=2400

REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
readonly REPO_ROOT
readonly MANIFEST="$REPO_ROOT/deploy/collector/builder-config.yaml"
readonly CACHE_ROOT="${LKAW_INFRA_CACHE:-$HOME/.cache/livekit-agent-worker}"

log() { printf '[ensure-infra] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# Runs "$@" while holding an exclusive flock on $1 (a subshell, so the lock and any EXIT trap
# set by the command end with it).
with_lock() {
    local lock=$1
    shift
    mkdir -p "$(dirname "$lock")"
    (
        if ! flock -n 9; then
            log "waiting for another build to release $lock"
            flock -w "$LOCK_WAIT_SECONDS" 9 || die "timed out after ${LOCK_WAIT_SECONDS}s waiting for $lock"
        fi
        "$@"
    ) 9>"$lock"
}

# The build dir of the current locked subshell; global because the EXIT trap that removes it
# runs after the function that created it has returned.
BUILD_TMP=""
cleanup_build_tmp() { [[ -z $BUILD_TMP ]] || rm -rf "$BUILD_TMP"; }

# Temp dirs live next to the final binary so the closing mv is an atomic rename; leftovers of
# killed builds are removed by the next build, which holds the lock and so cannot race them.
new_build_dir() {
    local dir=$1
    mkdir -p "$dir"
    find "$dir" -maxdepth 1 -name '.build.*' -exec rm -rf {} + 2>/dev/null || true
    mktemp -d "$dir/.build.XXXXXX"
}

find_go() {
    if command -v go >/dev/null 2>&1; then
        command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then
        echo /usr/local/go/bin/go
    else
        die "Go toolchain not found (neither 'go' on PATH nor /usr/local/go/bin/go); install Go 1.26+ from https://go.dev/dl/"
    fi
}

# Builds a Go command into its cache dir with `go install`, atomically.
# Usage: go_install_locked BIN NAME VERSION CHECK_ARG [GO_INSTALL_ARG...]
go_install_locked() {
    local bin=$1 name=$2 version=$3 check=$4 dir tmp go start
    shift 4
    dir=$(dirname "$bin")
    [[ -x $bin ]] && return 0
    go=$(find_go)
    BUILD_TMP=$(new_build_dir "$dir")
    tmp=$BUILD_TMP
    trap cleanup_build_tmp EXIT
    start=$SECONDS
    log "building $name $version with $("$go" env GOVERSION) (minutes on a cold Go cache)"
    GOBIN="$tmp" "$go" install "$@" >&2
    local built=("$tmp"/*)
    [[ ${#built[@]} -eq 1 && -x ${built[0]} ]] || die "go install of $name produced no single binary"
    "${built[0]}" "$check" >&2 || die "freshly built $name does not run"
    mv -f "${built[0]}" "$bin"
    log "built $name in $((SECONDS - start))s -> $bin"
}

# ---------------------------------------------------------------------------- livekit-server

livekit_bin() { echo "$CACHE_ROOT/livekit-server/$LIVEKIT_VERSION/livekit-server"; }

build_livekit_locked() {
    go_install_locked "$(livekit_bin)" livekit-server "$LIVEKIT_VERSION" --version \
        "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION"
}

ensure_livekit() {
    [[ -x $(livekit_bin) ]] || with_lock "$CACHE_ROOT/livekit-server/.lock" build_livekit_locked
    livekit_bin
}

# ------------------------------------------------------------------------------------ otelcol

ocb_bin() { echo "$CACHE_ROOT/ocb/$OCB_VERSION/ocb"; }

install_ocb_locked() {
    go_install_locked "$(ocb_bin)" ocb "$OCB_VERSION" version \
        "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
}

otelcol_bin() {
    local hash
    [[ -f $MANIFEST ]] || die "collector manifest missing: $MANIFEST"
    # The manifest hash is part of the key so editing the component list triggers a rebuild.
    hash=$(sha256sum "$MANIFEST" | cut -c1-12)
    echo "$CACHE_ROOT/otelcol/$OCB_VERSION-$hash/otelcol"
}

build_otelcol_locked() {
    local dir bin tmp go ocb start built
    bin=$(otelcol_bin)
    dir=$(dirname "$bin")
    [[ -x $bin ]] && return 0
    grep -q "otlpreceiver $OCB_VERSION\$" "$MANIFEST" ||
        die "${MANIFEST#"$REPO_ROOT"/} does not pin the collector modules at $OCB_VERSION (the ocb version)"
    with_lock "$CACHE_ROOT/ocb/.lock" install_ocb_locked
    ocb=$(ocb_bin)
    go=$(find_go)
    BUILD_TMP=$(new_build_dir "$dir")
    tmp=$BUILD_TMP
    trap cleanup_build_tmp EXIT
    start=$SECONDS
    log "building otelcol with ocb $OCB_VERSION from ${MANIFEST#"$REPO_ROOT"/} (several minutes on a cold Go cache)"
    cp "$MANIFEST" "$tmp/builder-config.yaml"
    # ocb resolves the manifest's relative output_path against its working directory, looks
    # up "go" on PATH, and always creates a (then unused) default output dir under TMPDIR.
    (
        cd "$tmp"
        PATH="$(dirname "$go"):$PATH" TMPDIR="$tmp" \
            "$ocb" --config builder-config.yaml --ldflags='-s -w' >&2
    )
    built=$(find "$tmp/_build" -maxdepth 1 -type f -name 'otelcol*' -perm -u+x | head -n 1)
    [[ -n $built ]] || die "ocb finished but produced no otelcol binary under $tmp/_build"
    "$built" --version >&2 || die "freshly built otelcol does not run"
    cp "$MANIFEST" "$dir/builder-config.yaml"
    mv -f "$built" "$bin"
    log "built otelcol in $((SECONDS - start))s -> $bin"
}

ensure_otelcol() {
    [[ -x $(otelcol_bin) ]] || with_lock "$CACHE_ROOT/otelcol/.lock" build_otelcol_locked
    otelcol_bin
}

# ---------------------------------------------------------------------------------- helm

helm_bin() { echo "$CACHE_ROOT/helm/$HELM_VERSION/helm"; }

build_helm_locked() {
    # helm's own release build stamps its version the same way; without it, `helm version`
    # names only the minor release
    go_install_locked "$(helm_bin)" helm "$HELM_VERSION" version \
        -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
        "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
}

ensure_helm() {
    [[ -x $(helm_bin) ]] || with_lock "$CACHE_ROOT/helm/.lock" build_helm_locked
    helm_bin
}

# ---------------------------------------------------------------------- Debian packages

# Prefix for commands that need root (global: also used by an EXIT trap).
SUDO=()

# The Debian packages the tests run, by the command each provides.
declare -rA DEBIAN_PACKAGES=(
    [prometheus]=prometheus [promtool]=prometheus
    [espeak-ng]=espeak-ng
    [redis-server]=redis-server
)

have_commands() {
    local cmd
    for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || return 1; done
}

port_listening() {
    local hex
    hex=$(printf ':%04X ' "$1")
    # Field 4 is the socket state; 0A is LISTEN.
    awk -v p="$hex" 'NR > 1 && index($2 " ", p) && $4 == "0A" { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Installs the Debian package providing each command in "$@" that is missing; the services
# some packages start (prometheus, redis-server) are kept from starting: tests start their own
# servers on free ports.
install_debian_locked() {
    local policy=/usr/sbin/policy-rc.d added_policy=0 cmd service
    have_commands "$@" && return 0
    local -A packages=()
    for cmd in "$@"; do packages[${DEBIAN_PACKAGES[$cmd]}]=1; done
    command -v apt-get >/dev/null 2>&1 ||
        die "$* not on PATH and apt-get is unavailable; install: ${!packages[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        sudo -n true 2>/dev/null ||
            die "$* not on PATH; run: sudo apt-get install -y --no-install-recommends ${!packages[*]}"
        SUDO=(sudo -n)
    fi
    # A package's postinst starts its Debian service; a policy-rc.d that exits 101 forbids it.
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 755 "$policy"
        added_policy=1
        trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    log "installing Debian package(s) ${!packages[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${!packages[@]}" >&2
    # Belt and braces in case a service was started anyway (a policy-rc.d we did not own).
    for service in "${!packages[@]}"; do
        if [[ -x /etc/init.d/$service ]] && "${SUDO[@]}" "/etc/init.d/$service" status >/dev/null 2>&1; then
            log "stopping the Debian $service service started by the package"
            "${SUDO[@]}" "/etc/init.d/$service" stop >&2 || true
        fi
    done
    if ((added_policy)); then
        "${SUDO[@]}" rm -f "$policy"
        trap - EXIT
    fi
    if port_listening 9090; then
        log "warning: something listens on :9090 (tests use free ports, so this is harmless to them)"
    fi
    have_commands "$@" || die "installed ${!packages[*]} but $* still not on PATH"
}

ensure_debian() {
    have_commands "$@" || with_lock "$CACHE_ROOT/apt.lock" install_debian_locked "$@"
}

abs_command() {
    local p
    p=$(command -v "$1") || die "$1 not found on PATH"
    [[ $p == /* ]] || p="$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
    echo "$p"
}

# ----------------------------------------------------------------------------------- main

main() {
    [[ $# -eq 1 ]] || {
        usage
        exit 2
    }
    command -v flock >/dev/null 2>&1 || die "flock not found (Debian package util-linux)"
    case $1 in
    livekit-server) ensure_livekit ;;
    otelcol) ensure_otelcol ;;
    helm) ensure_helm ;;
    prometheus | promtool | espeak-ng | redis-server)
        ensure_debian "$1"
        abs_command "$1"
        ;;
    all)
        local lk oc hm start=$SECONDS
        lk=$(ensure_livekit)
        oc=$(ensure_otelcol)
        hm=$(ensure_helm)
        ensure_debian prometheus promtool espeak-ng redis-server
        log "ready in $((SECONDS - start))s:"
        log "  livekit-server $lk"
        log "  otelcol        $oc"
        log "  helm           $hm"
        log "  prometheus     $(abs_command prometheus)"
        log "  promtool       $(abs_command promtool)"
        log "  espeak-ng      $(abs_command espeak-ng)"
        log "  redis-server   $(abs_command redis-server)"
        ;;
    -h | --help)
        usage
        ;;
    *)
        usage
        exit 2
        ;;
    esac
}

main "$@"
