# Helpers shared by the cluster scripts (sourced; POSIX sh: the redis image's /bin/sh is dash).
# Nodes are REDIS_CLUSTER_NODES entries, host:port (IPv6 hosts are not supported here).

# redis-cli as the nodes' ACL user: REDIS_USERNAME, and the password from REDISCLI_AUTH (read by
# redis-cli itself, so it is on no command line). Both unset: the default user, no password.
rcli() { redis-cli ${REDIS_USERNAME:+--user "$REDIS_USERNAME"} "$@"; }

# The IPv4/IPv6 address of a name, or of an address itself; empty when it does not resolve (yet).
resolve() { getent hosts "$1" | awk '{ print $1; exit }'; }

# One field of CLUSTER INFO of ip port, empty when the node does not answer.
cluster_info() { rcli -h "$1" -p "$2" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"; }

# Whether ip port belongs to a formed cluster: it knows other nodes. A fresh node knows only itself.
in_cluster() { [ "$(cluster_info "$1" "$2" cluster_known_nodes)" -gt 1 ] 2>/dev/null; }

# The nodes, space-separated.
node_list() { echo "$REDIS_CLUSTER_NODES" | tr ',' ' '; }
