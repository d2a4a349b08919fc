#!/usr/bin/env bash
# Brings up the example cluster (3 nodes) and shows a curl between pods. Does its own set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
kemu() { ./bin/kemu "$@"; }

kemu up --config examples/three-nodes.yaml -f examples/hello/ --wait
echo
echo '$ kemu get nodes -o wide'
kemu get nodes -o wide
echo
echo '$ kemu get pods -o wide'
kemu get pods -o wide
# A web pod on another node than the client, so the curl crosses nodes.
ip=$(kemu get pods -o json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const pods = JSON.parse(s).items;
    const client = pods.find((p) => p.metadata.name === "client");
    const web = pods.filter((p) => p.metadata.labels?.app === "web");
    const far = web.find((p) => p.spec.nodeName !== client.spec.nodeName) ?? web[0];
    console.log(far.status.podIP);
  });')
echo
echo "\$ kemu exec client -- curl -s http://$ip/hostname"
kemu exec client -- curl -s "http://$ip/hostname"
echo
echo
echo "\$ kemu exec client -- curl -s http://$ip/clientip"
kemu exec client -- curl -s "http://$ip/clientip"
echo
echo
echo "\$ kemu exec client -- ping -c 2 $ip"
kemu exec client -- ping -c 2 "$ip"
cat <<EOT

The cluster "kemu" is running. Try:
  ./bin/kemu exec client -- curl -s http://$ip/
  ./bin/kemu logs multi-container-pod -c sidecar
  ./bin/kemu capture -w /tmp/kemu.pcapng --duration 10s   (then: tshark -r /tmp/kemu.pcapng)
  ./bin/kemu down
EOT
