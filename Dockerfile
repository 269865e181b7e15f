# tortie node agent image. Built from this repository; runs as the calico-node replacement
# DaemonSet (hostNetwork, privileged). The runtime needs iproute2, iptables (nft and legacy),
# ipset and conntrack from Debian.
FROM node:20-bookworm-slim AS build
# gcc builds the TCP MD5 / GTSM addon (native/tcpmd5) the BGP speaker loads for BGP passwords.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build-native.sh ./scripts/
COPY native ./native
RUN rm -rf native/tcpmd5/build && scripts/build-native.sh
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables ipset conntrack ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/tortie
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/native/tcpmd5/build/Release/tcpmd5.node ./native/tcpmd5/build/Release/tcpmd5.node
COPY package.json ./
COPY bin ./bin
ENV NODE_ENV=production
ENTRYPOINT ["/opt/tortie/bin/tortie"]
CMD ["agent"]
