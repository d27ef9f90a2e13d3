# The Job redis-cluster-init: forms the cluster from every node of REDIS_CLUSTER_NODES, once. It
# waits until every node answers, then runs `redis-cli --cluster create` only if no node belongs
# to a cluster yet; if all already do, it only waits for cluster_state:ok. So re-running it (a
# retry, a re-applied overlay) never touches a formed cluster. A mix of formed and fresh nodes
# (a pod that lost its volume) is left to the operator: it fails loudly.
set -eu
. "$(dirname "$0")/common.sh"
: "${REDIS_CLUSTER_NODES:?host:port,... of every node}"
REPLICAS=${CLUSTER_REPLICAS:-1}
deadline=$(($(date +%s) + ${WAIT_SECONDS:-600}))

in_time() {
  [ "$(date +%s)" -lt "$deadline" ] && return 0
  echo "cluster-init: timed out waiting for $1" >&2
  exit 1
}

addrs=''
for node in $(node_list); do
  host=${node%:*}
  port=${node##*:}
  until ip=$(resolve "$host") && [ -n "$ip" ] && [ "$(rcli -h "$ip" -p "$port" ping 2>/dev/null)" = PONG ]; do
    in_time "$node to answer PING"
    sleep 2
  done
  addrs="$addrs $ip:$port"
done

formed=0
fresh=0
for a in $addrs; do
  if in_cluster "${a%:*}" "${a##*:}"; then formed=$((formed + 1)); else fresh=$((fresh + 1)); fi
done
if [ "$formed" -eq 0 ]; then
  echo "cluster-init: forming the cluster of$addrs"
  # shellcheck disable=SC2086 # one argument per node
  rcli --cluster create $addrs --cluster-replicas "$REPLICAS" --cluster-yes
elif [ "$fresh" -gt 0 ]; then
  echo "cluster-init: $formed nodes are in a cluster and $fresh are not: add them by hand (redis-cli --cluster add-node)" >&2
  exit 1
else
  echo "cluster-init: already formed, nothing to do"
fi

for a in $addrs; do
  until [ "$(cluster_info "${a%:*}" "${a##*:}" cluster_state)" = ok ]; do
    in_time "cluster_state:ok on $a"
    sleep 1
  done
done
echo "cluster-init: cluster_state:ok on every node"
