#!/usr/bin/env bash
# Installs what `make test` and `make demo` need and is missing: Debian packages, then node_modules.
# Safe to run twice: it only installs what is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package that provides it
declare -A NEED=(
  [ip]=iproute2 [iptables]=iptables [ipset]=ipset [nft]=nftables [conntrack]=conntrack
  [etcd]=etcd-server [etcdctl]=etcd-client [bird]=bird [birdc]=bird [gobgpd]=gobgpd [gobgp]=gobgpd
  [curl]=curl [pkill]=procps [ping]=iputils-ping [setpriv]=util-linux [sha1sum]=coreutils
)
missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
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
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  # Debian starts these daemons in the root namespace on install where an init system runs;
  # the tests start their own inside namespaces, so stop any that came up.
  for svc in etcd bird bird6 gobgpd; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      systemctl stop "$svc" || true
      systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
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
