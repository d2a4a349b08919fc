#!/usr/bin/env bash
# Everything kemu needs on a fresh Debian/Ubuntu machine, run as root: the Debian tools the
# pods and tests use, the npm dependencies, the native addon and the TypeScript build.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "kemu needs root (network namespaces, TUN devices): run this with sudo" >&2
  exit 1
fi

# Debian packages: ip/nsenter for sandboxes; curl, dig, nc, wget, ping for use inside pods;
# tshark to read captures; iperf3, sockperf and nftables (the kernel's DNAT baseline) for the
# benchmark; g++/make/python3 for node-gyp.
# openssl: makes the self-signed certificate of each cluster's HTTPS API (kubectl's kubeconfig).
# dnsmasq-base: an upstream DNS server in the DNS tests and the C baseline of the DNS benchmark
# (with dnsperf, its load generator).
pkgs=(openssl iproute2 util-linux procps curl dnsutils netcat-openbsd wget iputils-ping tshark iperf3 sockperf nftables dnsmasq-base dnsperf g++ make python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # tshark asks whether non-root users may capture; the answer does not matter to kemu (root).
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm install runs `node-gyp rebuild` for native/ (against the local Node headers).
stamp=node_modules/.kemu-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -f build/Release/kemu.node ]; then
  echo "installing npm dependencies and building the native addon" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch "$stamp"
fi
if [ ! -f build/Release/kemu.node ] || [ -n "$(find native binding.gyp -newer build/Release/kemu.node 2>/dev/null | head -1)" ]; then
  npm run --silent install >&2
fi
npx --no-install tsc -p tsconfig.json
