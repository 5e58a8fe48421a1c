#!/usr/bin/env bash
# Starts the local services the cluster tests use, when they are not running, with this
# machine's documented commands, and waits until they answer:
#   PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), Redis on 127.0.0.1:6379 (no persistence).
# Idempotent: a service that already answers is left alone.
set -euo pipefail

wait_for() { # name, tries, command...
  local name=$1 tries=$2
  shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then
      echo "$name is up"
      return 0
    fi
    sleep 0.5
  done
  echo "$name did not answer" >&2
  return 1
}

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -U postgres -q; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
wait_for PostgreSQL 60 pg_up

if ! redis_up; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for Redis 60 redis_up
