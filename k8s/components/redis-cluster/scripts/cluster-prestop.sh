# preStop of every node: a master hands its slots to an in-sync replica before Kubernetes stops
# it. CLUSTER FAILOVER (not FORCE) pauses the master's clients until the replica has caught up,
# then promotes it: no write is lost, and a rolling update or a node drain costs each shard well
# under a second of writes instead of cluster-node-timeout (5 s) plus an election. Always exits 0:
# a failed handover only falls back to the automatic failover.
set -u
. "$(dirname "$0")/common.sh"
PORT=${REDIS_PORT:-6379}
deadline=$(($(date +%s) + ${FAILOVER_WAIT_SECONDS:-20}))

role() { rcli -p "$PORT" role 2>/dev/null | head -n 1 | tr -d '\r'; }

[ "$(role)" = master ] || exit 0
# slave0:ip=10.1.2.3,port=6379,state=online,offset=…,lag=0
replica=$(rcli -p "$PORT" info replication | tr -d '\r' | grep -m 1 '^slave[0-9]*:.*state=online')
[ -n "$replica" ] || exit 0
ip=$(echo "$replica" | sed 's/.*ip=\([^,]*\).*/\1/')
rport=$(echo "$replica" | sed 's/.*port=\([0-9]*\).*/\1/')
echo "cluster-prestop: handing over to $ip:$rport"
rcli -h "$ip" -p "$rport" cluster failover || exit 0
until [ "$(role)" = slave ]; do
  [ "$(date +%s)" -lt "$deadline" ] || exit 0
  sleep 0.2
done
echo "cluster-prestop: now a replica of $ip:$rport"
