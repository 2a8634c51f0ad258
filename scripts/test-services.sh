#!/usr/bin/env bash
# Redis, a three-master Redis Cluster and PostgreSQL for the tests: use the ones listening on
# 127.0.0.1:6379 / :7101-7103 / :5432, else start them from Debian's packages on loopback in a
# temporary directory. `down` stops only what `up` started.
set -euo pipefail
STATE=${MASTERY_TEST_SERVICES_DIR:-/tmp/mastery-test-services}
REDIS_PORT=${MASTERY_TEST_REDIS_PORT:-6379}
PG_PORT=${MASTERY_TEST_PG_PORT:-5432}
# Three masters, space- or comma-separated; each also listens on its port + 10000 (cluster bus).
CLUSTER_PORTS=$(echo "${MASTERY_TEST_REDIS_CLUSTER_PORTS:-7101 7102 7103}" | tr ',' ' ')

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  for _ in $(seq 1 100); do listening "$1" && return 0; sleep 0.1; done
  echo "$2 did not start listening on 127.0.0.1:$1" >&2
  return 1
}

install() {
  echo "installing $* from Debian's packages" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

redis_up() {
  listening $REDIS_PORT && return 0
  command -v redis-server >/dev/null || install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --save "" --appendonly no \
    --dir "$STATE" --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
  touch "$STATE/redis.started"
  wait_for $REDIS_PORT Redis
}

cluster_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

wait_for_cluster() {
  for _ in $(seq 1 100); do
    local ok=1
    for port in $CLUSTER_PORTS; do cluster_ok "$port" || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  echo "the Redis Cluster on 127.0.0.1:{${CLUSTER_PORTS// /,}} did not reach cluster_state:ok" >&2
  return 1
}

cluster_up() {
  local port free=0 nodes=()
  for port in $CLUSTER_PORTS; do listening "$port" || free=$((free + 1)); done
  [ $free = 0 ] && { wait_for_cluster; return; }
  if [ "$free" != "$(wc -w <<<"$CLUSTER_PORTS")" ]; then
    echo "some of the Redis Cluster ports $CLUSTER_PORTS are taken; free them or set" \
      "MASTERY_TEST_REDIS_CLUSTER_PORTS" >&2
    return 1
  fi
  command -v redis-server >/dev/null || install redis-server
  echo "$CLUSTER_PORTS" >"$STATE/cluster.started"  # before starting: `down` cleans up a failed `up`
  for port in $CLUSTER_PORTS; do
    rm -rf "$STATE/cluster-$port" && mkdir -p "$STATE/cluster-$port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file "$STATE/cluster-$port/nodes.conf" \
      --cluster-node-timeout 5000 --dir "$STATE/cluster-$port" \
      --pidfile "$STATE/cluster-$port/redis.pid" --logfile "$STATE/cluster-$port/redis.log"
    nodes+=("127.0.0.1:$port")
  done
  for port in $CLUSTER_PORTS; do wait_for "$port" "Redis Cluster node"; done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  wait_for_cluster
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

pg_up() {
  listening $PG_PORT && return 0
  [ -n "$(pg_bin)" ] || install postgresql
  local bin; bin=$(pg_bin)
  local run=(); [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  mkdir -p "$STATE/pg"; chown postgres "$STATE" "$STATE/pg" 2>/dev/null || true
  "${run[@]}" "$bin/initdb" -D "$STATE/pg" -A trust -U postgres >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$STATE/pg" -l "$STATE/pg.log" -w start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $STATE -c fsync=on" >/dev/null
  touch "$STATE/pg.started"
  wait_for $PG_PORT PostgreSQL
  "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p $PG_PORT -U postgres test
}

cluster_down() {
  local port pid
  for port in $(cat "$STATE/cluster.started"); do
    pid=$(cat "$STATE/cluster-$port/redis.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -rf "$STATE/cluster-$port"
  done
  rm -f "$STATE/cluster.started"
}

down() {
  [ -f "$STATE/cluster.started" ] && cluster_down
  if [ -f "$STATE/redis.started" ]; then
    kill "$(cat "$STATE/redis.pid")" 2>/dev/null || true
    rm -f "$STATE/redis.started"
  fi
  if [ -f "$STATE/pg.started" ]; then
    local run=(); [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
    "${run[@]}" "$(pg_bin)/pg_ctl" -D "$STATE/pg" -m fast -w stop >/dev/null || true
    rm -rf "$STATE/pg" "$STATE/pg.started"
  fi
}

case "${1:-}" in
  up) mkdir -p "$STATE"; redis_up; cluster_up; pg_up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
