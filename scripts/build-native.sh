#!/usr/bin/env bash
# Builds native/tcpmd5 (TCP MD5 and GTSM socket options for the BGP speaker, see
# src/bgp/fsm/md5.ts) straight with the C compiler. The addon is one C file using plain N-API,
# so node-gyp (Python, and a download of Node's headers, which CI machines without internet
# cannot do) is not needed: the headers ship with Node under <prefix>/include/node.
# binding.gyp stays for developers who prefer `node-gyp rebuild`; both produce the same file.
set -euo pipefail
cd "$(dirname "$0")/.."

src=native/tcpmd5/src/tcpmd5.c
out=native/tcpmd5/build/Release/tcpmd5.node
node=${NODE:-node}
inc=$("$node" -p 'require("node:path").resolve(process.execPath, "..", "..", "include", "node")')
if [ ! -f "$inc/node_api.h" ]; then
  echo "build-native: Node's headers are not at $inc (node_api.h missing); install Node.js with its headers (the nodesource or nodejs.org builds have them)" >&2
  exit 1
fi
cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build-native: no C compiler ($cc); run scripts/install-deps.sh as root, or install gcc and libc6-dev" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
# Same flags as binding.gyp, plus what node-gyp adds for a shared object.
"$cc" -shared -fPIC -O2 -Wall -Wextra -I"$inc" -o "$out.tmp" "$src"
mv "$out.tmp" "$out"
# Loads it once so a broken build fails here, not in the middle of the BGP tests.
"$node" -e 'const m = require(process.argv[1]); for (const f of ["setMd5", "connect", "setTtl", "setMinTtl"]) if (typeof m[f] !== "function") throw new Error("tcpmd5.node lacks " + f);' "$PWD/$out"
echo "build-native: built $out"
