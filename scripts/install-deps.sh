#!/usr/bin/env bash
# Installs what `make test` and `make demo` need and is missing: Debian packages, then node_modules.
# Safe to run twice: it only installs what is absent.
#   install-deps.sh           everything the build, the tests, the lab and the demo run (root to install)
#   install-deps.sh --build   only what compiling and the unit tests need (make, cc, node_modules):
#                             `make build` and `make test-unit` work without root once those are there
set -euo pipefail
mode=all
case "${1:-}" in
  '') ;;
  --build) mode=build ;;
  *) echo "install-deps: unknown argument '$1' (use --build for the build's needs only)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

# command -> Debian package that provides it. Every program the build, the tests, the lab and the
# demo run (grep src test bench for spawned commands when adding one).
declare -A NEED=(
  [make]=make [cc]=gcc                                  # native/tcpmd5 (scripts/build-native.sh)
  [ip]=iproute2 [bridge]=iproute2
  [iptables]=iptables [ipset]=ipset [nft]=nftables [conntrack]=conntrack
  [etcd]=etcd-server [etcdctl]=etcd-client
  [bird]=bird [birdc]=bird [bird6]=bird [birdc6]=bird
  [gobgpd]=gobgpd [gobgp]=gobgpd
  [curl]=curl [openssl]=openssl [ping]=iputils-ping
  [pkill]=procps [sysctl]=procps
  [setpriv]=util-linux [nsenter]=util-linux [sha1sum]=coreutils
  # The Kubernetes-datastore tests drive the real client. Debian's is old (1.20.2); it is only
  # installed where no kubectl is, and a newer one (as on the dev machines) is kept.
  [kubectl]=kubernetes-client
)
if [ "$mode" = build ]; then
  declare -A BUILD_NEED=([make]=make [cc]=gcc)
  unset NEED
  declare -A NEED
  for k in "${!BUILD_NEED[@]}"; do NEED[$k]=${BUILD_NEED[$k]}; done
fi
missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
# The C library headers the addon needs: gcc only recommends libc6-dev, and apt runs without
# recommends below.
[ -f /usr/include/stdio.h ] || missing+=(libc6-dev)
if ((${#missing[@]})); then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing Debian packages: $pkgs; run as root (sudo make ...) to install them" >&2
    exit 1
  fi
  if dpkg -s bird2 >/dev/null 2>&1; then
    echo "install-deps: bird2 is installed; tortie's tests need BIRD 1.6 (package bird), which replaces it. Remove bird2 first." >&2
    exit 1
  fi
  echo "install-deps: installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  # Keep Debian's maintainer scripts from starting etcd, BIRD or GoBGP in the root namespace (the
  # tests start their own inside namespaces): policy-rc.d exit 101 = "not allowed", for the
  # duration of the install only, and only if the machine has no policy of its own.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq -o Acquire::Retries=3 </dev/null
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends -o Acquire::Retries=3 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $pkgs </dev/null >/dev/null
  # Where an init system ignored policy-rc.d, stop whatever came up anyway.
  for svc in etcd bird bird6 gobgpd; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      systemctl stop "$svc" || true
      systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
  done
  for cmd in "${!NEED[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "install-deps: $cmd is still missing after installing ${NEED[$cmd]}" >&2; exit 1; }
  done
fi

if ! command -v node >/dev/null 2>&1; then
  echo "install-deps: Node.js 20 or later is required and not installed" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install-deps: Node.js $(node --version) is too old; tortie needs 20 or later" >&2
  exit 1
fi

# npm ci only when node_modules does not match the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
