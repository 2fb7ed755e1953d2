#!/usr/bin/env bash
# Idempotent bootstrap for a fresh Debian bookworm machine: system packages, npm deps, build.
# Called by `npm start` and `npm test`. Safe to run again: every step checks before acting.
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

pkgs_needed=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || pkgs_needed+=(postgresql-15)
[ -x /usr/lib/postgresql/15/bin/pg_dump ] || pkgs_needed+=(postgresql-client-15)
[ -x /usr/lib/postgresql/13/bin/postgres ] || pkgs_needed+=(postgresql-13)
command -v nats-server >/dev/null || pkgs_needed+=(nats-server)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || pkgs_needed+=(haproxy)
command -v pgbackrest >/dev/null || pkgs_needed+=(pgbackrest)
command -v openssl >/dev/null || pkgs_needed+=(openssl)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || pkgs_needed+=(iproute2)
command -v pgbench >/dev/null || [ -x /usr/lib/postgresql/15/bin/pgbench ] || pkgs_needed+=(postgresql-contrib)
# The docker runtime's tests and images: Podman serves the Docker Engine API (with runc), mmdebstrap builds images.
command -v podman >/dev/null || pkgs_needed+=(podman)
command -v runc >/dev/null || [ -x /usr/sbin/runc ] || pkgs_needed+=(runc)
command -v mmdebstrap >/dev/null || pkgs_needed+=(mmdebstrap)
[ -x /usr/libexec/podman/catatonit ] || pkgs_needed+=(catatonit)

# PostgreSQL 13 comes from bullseye (main and its security suite), from the mirrors the system
# already uses for bookworm; a pin lets only PostgreSQL 13 and the libraries it needs come from there.
# shellcheck source=infra/deploy/bullseyeSources.sh
source infra/deploy/bullseyeSources.sh
bullseye_changed=0
if [ -x /usr/lib/postgresql/13/bin/postgres ] || [[ " ${pkgs_needed[*]} " == *" postgresql-13 "* ]]; then
  ensure_bullseye_sources && bullseye_changed=1
fi

if [ ${#pkgs_needed[@]} -gt 0 ] || [ "$bullseye_changed" -eq 1 ]; then
  [ ${#pkgs_needed[@]} -gt 0 ] && echo "bootstrap: installing ${pkgs_needed[*]}"
  # pgfleet runs its own servers: no default 'main' cluster from the Debian packages.
  as_root mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/pgfleet.conf >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  if [ ${#pkgs_needed[@]} -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      -o Dpkg::Options::=--force-confold "${pkgs_needed[@]}" >/dev/null
  fi
  # A new bullseye source: bring an installed PostgreSQL 13 up to its security updates.
  if [ "$bullseye_changed" -eq 1 ] && dpkg -s postgresql-13 >/dev/null 2>&1; then
    echo "bootstrap: PostgreSQL 13 security updates from bullseye-security"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --only-upgrade \
      -o Dpkg::Options::=--force-confold $PGFLEET_BULLSEYE_PACKAGES >/dev/null
  fi
  # Debian starts a nats-server service on install; pgfleet runs its own.
  as_root sh -c 'command -v service >/dev/null && service nats-server stop >/dev/null 2>&1 || true'
  as_root sh -c 'command -v service >/dev/null && service haproxy stop >/dev/null 2>&1 || true'
fi

# npm dependencies: reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Build every workspace (turbo caches unchanged packages).
npx turbo run build --output-logs=errors-only >/dev/null || npx turbo run build --output-logs=errors-only

# `npx pgfleet` from the repository: npm links a workspace's bin only when its target exists,
# and the CLI is a build output, so make sure the link is there after the first build.
[ -e node_modules/.bin/pgfleet ] || ln -sf ../@pgfleet/api/dist/cli.js node_modules/.bin/pgfleet
