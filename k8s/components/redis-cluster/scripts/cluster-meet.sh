# Beside every node (container cluster-meet). A node that restarts alone tells the others its new
# pod IP itself (cluster-announce-ip); but when ALL restart at once (node pool replaced, an
# outage), each nodes.conf names only dead addresses and the cluster never reassembles. So every
# INTERVAL seconds, if this node belongs to a formed cluster, it MEETs each peer of
# REDIS_CLUSTER_NODES that belongs to one too and whose current address it does not know: Redis
# matches the node ID and updates the address. A fresh node (wiped volume, never joined) is never
# met: adding one is the operator's decision. ONCE=1 runs one round (tests).
set -u
. "$(dirname "$0")/common.sh"
: "${REDIS_CLUSTER_NODES:?host:port,... of every node}"
PORT=${REDIS_PORT:-6379}
INTERVAL=${INTERVAL:-10}

meet_round() {
  in_cluster 127.0.0.1 "$PORT" || return 0
  view=$(rcli -p "$PORT" cluster nodes | tr -d '\r')
  for node in $(node_list); do
    ip=$(resolve "${node%:*}")
    port=${node##*:}
    [ -n "$ip" ] || continue
    case "$view" in *" $ip:$port@"*) continue ;; esac # known here (itself included)
    in_cluster "$ip" "$port" || continue
    # its bus port as it states it (default port + 10000)
    bus=$(rcli -h "$ip" -p "$port" cluster nodes 2>/dev/null | tr -d '\r' | awk '/myself/ { split($2, a, "[@,]"); print a[2] }')
    # shellcheck disable=SC2086 # no bus port: no argument
    rcli -p "$PORT" cluster meet "$ip" "$port" $bus >/dev/null && echo "cluster-meet: met $node at $ip:$port"
  done
}

while :; do
  meet_round
  [ -z "${ONCE:-}" ] || exit 0
  sleep "$INTERVAL"
done
