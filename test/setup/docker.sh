#!/usr/bin/env bash
# Makes a Docker engine and the lab images available on an offline machine.
#
#   bash test/setup/docker.sh            install/start Docker, build the images that are
#                                        missing, publish them to the local registry, and
#                                        verify them (the verification runs when something
#                                        was built or pushed)
#   bash test/setup/docker.sh --verify   always run the verification at the end
#   bash test/setup/docker.sh --no-verify / --no-registry
#   bash test/setup/docker.sh --rebuild  rebuild every image (the cached base rootfs is reused)
#
# 1. Installs Debian's docker.io when `dockerd` is missing and starts dockerd in the
#    background when `docker info` does not answer (log: $CACHE/dockerd.log).
# 2. Builds data-labs-local/postgres:15, data-labs-local/redis:7 and
#    data-labs-local/memcached:1.6 from Debian bookworm
#    packages (debootstrap minbase + apt-get in a chroot + `docker import`), no registry
#    needed. Their entrypoints honour the official images' contracts:
#      postgres: POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#                POSTGRES_USER (postgres), POSTGRES_DB (= user), PGDATA, POSTGRES_INITDB_ARGS,
#                /docker-entrypoint-initdb.d/*.sh|*.sql, port 5432, scram-sha-256 from any host,
#                STOPSIGNAL SIGINT (fast shutdown), `docker run IMAGE postgres -c x=y` works.
#      redis:    `docker run IMAGE redis-server --requirepass secret`; no args =
#                `redis-server --protected-mode no` on all interfaces, port 6379, WORKDIR /data.
#      memcached: runs as user memcache; `docker run IMAGE memcached -m 64` or `IMAGE -m 64`
#                (flags alone get `memcached` put in front), port 11211, bash for the shell.
# 3. Runs Debian's docker-registry on 127.0.0.1:5000 (storage in $CACHE/registry) and pushes
#    the images as 127.0.0.1:5000/data-labs-local/{postgres:15,redis:7,memcached:1.6}, so a real
#    `docker pull` can be exercised.
# 4. Verifies: runs each image with a port published on 127.0.0.1, checks it answers, then
#    docker stop (timed), start, pause/unpause, and removes the containers.
#
# Everything listens on 127.0.0.1 only. Safe to run again: it only does what is missing.
set -euo pipefail

CACHE="${DATA_LABS_CACHE:-$HOME/.cache/data-labs}"
PG_IMAGE=data-labs-local/postgres:15
REDIS_IMAGE=data-labs-local/redis:7
MEMCACHED_IMAGE=data-labs-local/memcached:1.6
REGISTRY=127.0.0.1:5000
MIRROR="${DATA_LABS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DATA_LABS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
BASE_TAR="$CACHE/images/bookworm-minbase.tar"

verify=auto registry=1 rebuild=0
for arg in "$@"; do
  case "$arg" in
    --verify) verify=1 ;;
    --no-verify) verify=0 ;;
    --no-registry) registry=0 ;;
    --rebuild) rebuild=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "[docker.sh] $*"; }
die() { echo "[docker.sh] ERROR: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
T0=$(now_ms)
did_work=0

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, runs dockerd, uses chroot)"
mkdir -p "$CACHE/images"

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ $apt_updated = 0 ]; then
    say "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
  say "installing ${missing[*]} from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------- 1. engine
# An engine that already answers (local or DOCKER_HOST) is used as it is.
if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  # docker.io's Recommends (apparmor, cgroupfs-mount, xz, git...) are not needed here.
  apt_install docker.io iptables
  did_work=1
  command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after installing docker.io"
fi
command -v docker >/dev/null 2>&1 || die "no docker client on PATH"

if docker info >/dev/null 2>&1; then
  say "dockerd is running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
else
  say "starting dockerd (log: $CACHE/dockerd.log)"
  # setsid + nohup: the daemon outlives this script and its terminal.
  setsid nohup dockerd >>"$CACHE/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -20 "$CACHE/dockerd.log" >&2; die "dockerd did not answer within 60 s (see $CACHE/dockerd.log)"; }
  say "dockerd is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null)) after $(( ($(now_ms) - T0) / 1000 )) s"
fi

# ---------------------------------------------------------------- 2. images
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

WORK=""
cleanup() {
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    # Never delete a tree that still has something mounted inside it.
    for m in $(awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
      umount -l "$m" 2>/dev/null || true
    done
    if awk -v w="$WORK" 'index($2, w) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
      echo "[docker.sh] WARNING: mounts left under $WORK; not deleting it" >&2
    else
      rm -rf "$WORK"
    fi
  fi
}
trap cleanup EXIT

ensure_base_rootfs() {
  [ -s "$BASE_TAR" ] && return 0
  apt_install debootstrap
  local root="$WORK/base"
  say "debootstrap --variant=minbase bookworm (about 30 s; cached as $BASE_TAR)"
  local t; t=$(now_ms)
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$root"
  say "base rootfs ready in $(( ($(now_ms) - t) / 1000 )) s ($(du -h "$BASE_TAR" | cut -f1))"
}

# Unpacks the base rootfs into $WORK/<name> and prepares it for apt-get in a chroot.
prepare_rootfs() {
  local root="$WORK/$1"
  mkdir -p "$root"
  tar -C "$root" -xf "$BASE_TAR"
  cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
EOF
  cat >"$root/etc/apt/apt.conf.d/90data-labs" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
EOF
  # No docs, man pages or translations in the image.
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/90data-labs-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  # Package scripts must not start services inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  mount -t proc proc "$root/proc"
}

chroot_apt() {
  local name="$1" root="$WORK/$1"; shift
  say "chroot $name: apt-get install $*"
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C \
    sh -c 'apt-get update -qq && apt-get install -y -qq "$@"' sh "$@" >"$WORK/$name-apt.log" 2>&1 \
    || { tail -30 "$WORK/$name-apt.log" >&2; die "apt-get install in the $name rootfs failed (log above)"; }
}

finish_rootfs() {
  local root="$WORK/$1"
  umount "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d"
  chroot "$root" apt-get clean
  # Docs, man pages and translations (the dpkg excludes only cover packages added in the chroot).
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
    "$root"/usr/share/lintian/* "$root"/usr/share/i18n/*
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
    "$root"/var/log/apt/* "$root"/var/log/dpkg.log "$root"/tmp/* "$root"/root/.cache
  : >"$root/etc/resolv.conf"
  echo "$2" >"$root/etc/hostname"
}

# import_rootfs NAME IMAGE STOPSIGNAL CHANGE...
# `docker import` (engine 20.10) does not accept STOPSIGNAL, so the imported image gets
# it from a one-line Dockerfile build on top (no RUN step, so no network needed).
import_rootfs() {
  local root="$WORK/$1" image="$2" stopsignal="$3"; shift 3
  local args=() tmp="$image-rootfs"
  for c in "$@"; do args+=(-c "$c"); done
  say "docker import $image"
  tar -C "$root" --numeric-owner -c . | docker import "${args[@]}" \
    -m "built by test/setup/docker.sh from Debian bookworm packages" - "$tmp" >/dev/null \
    || die "docker import $image failed"
  rm -rf "$root"
  printf 'FROM %s\nSTOPSIGNAL %s\nLABEL org.opencontainers.image.description="%s from Debian bookworm packages (test/setup/docker.sh)"\n' \
    "$tmp" "$stopsignal" "$image" \
    | DOCKER_BUILDKIT=0 docker build -q -t "$image" - >/dev/null 2>"$WORK/build.log" \
    || { cat "$WORK/build.log" >&2; die "docker build $image failed"; }
  docker rmi "$tmp" >/dev/null
}

write_postgres_entrypoint() {
  cat >"$1" <<'EOF'
#!/bin/bash
# Entrypoint of data-labs-local/postgres:15, honouring the official postgres image's contract.
set -Eeuo pipefail
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
log() { echo "entrypoint: $*" >&2; }

if [ $# -eq 0 ] || [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  # setpriv execs (no extra parent process), so docker's signals reach postgres.
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  POSTGRES_USER="${POSTGRES_USER:-postgres}"
  POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password)
MSG
    exit 1
  fi
  log "initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086
  initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host="$auth" \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  {
    echo
    echo "host all all all $auth"
  } >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"

  scripts=()
  if [ -d /docker-entrypoint-initdb.d ]; then
    for f in /docker-entrypoint-initdb.d/*; do [ -f "$f" ] && scripts+=("$f"); done
  fi
  if [ "$POSTGRES_DB" != postgres ] || [ ${#scripts[@]} -gt 0 ]; then
    # A temporary server on the Unix socket only, as the official image does.
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p 5432" start >/dev/null
    export PGUSER="$POSTGRES_USER" PGHOST=/var/run/postgresql PGPORT=5432
    if [ "$POSTGRES_DB" != postgres ]; then
      psql -v ON_ERROR_STOP=1 -q --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in "${scripts[@]}"; do
      case "$f" in
        *.sh) log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
        *.sql) log "running $f"; psql -v ON_ERROR_STOP=1 -q --dbname "$POSTGRES_DB" -f "$f" ;;
        *.sql.gz) log "running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 -q --dbname "$POSTGRES_DB" ;;
        *) log "ignoring $f" ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    unset PGUSER PGHOST PGPORT
  fi
  log "initialisation complete; starting PostgreSQL"
fi

exec "$@"
EOF
  chmod 755 "$1"
}

write_redis_entrypoint() {
  cat >"$1" <<'EOF'
#!/bin/sh
# Entrypoint of data-labs-local/redis:7, honouring the official redis image's contract.
set -eu
if [ $# -eq 0 ]; then
  set -- redis-server
elif [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  chown redis:redis . 2>/dev/null || true
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$1" = redis-server ]; then
  # Like the official image: reachable from outside the container unless the
  # arguments or the given config file say otherwise.
  protected=1 bind=1
  for a in "$@"; do
    case "$a" in
      --protected-mode) protected= ;;
      --bind) bind= ;;
    esac
  done
  if [ -f "${2:-}" ]; then
    grep -q '^[[:space:]]*protected-mode' "$2" && protected=
    grep -q '^[[:space:]]*bind' "$2" && bind=
  fi
  [ -n "$bind" ] && set -- "$@" --bind 0.0.0.0
  [ -n "$protected" ] && set -- "$@" --protected-mode no
fi
exec "$@"
EOF
  chmod 755 "$1"
}

write_memcached_entrypoint() {
  cat >"$1" <<'EOF'
#!/bin/sh
# Entrypoint of data-labs-local/memcached:1.6, honouring the official memcached image's contract.
set -eu
if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- memcached "$@"
fi
exec "$@"
EOF
  chmod 755 "$1"
}

build_postgres() {
  prepare_rootfs postgres
  local root="$WORK/postgres"
  # postgresql-common would create a "main" cluster under /var/lib/postgresql/15; the
  # entrypoint creates the cluster in PGDATA instead.
  mkdir -p "$root/etc/postgresql-common/createcluster.d"
  echo 'create_main_cluster = false' >"$root/etc/postgresql-common/createcluster.d/00-data-labs.conf"
  chroot_apt postgres postgresql-15
  # PostgreSQL's LLVM JIT is optional (without llvmjit.so queries simply run without JIT);
  # it and the libraries only it needs are about 160 MB of the image.
  rm -rf "$root"/usr/lib/postgresql/15/lib/llvmjit*.so "$root"/usr/lib/postgresql/15/lib/llvmjit_types.bc \
    "$root"/usr/lib/postgresql/15/lib/bitcode "$root"/usr/lib/*/libLLVM-*.so* "$root"/usr/lib/*/libz3.so*
  write_postgres_entrypoint "$root/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$root/docker-entrypoint-initdb.d" "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
  chroot "$root" chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
  chmod 700 "$root/var/lib/postgresql/data"
  finish_rootfs postgres postgres
  import_rootfs postgres "$PG_IMAGE" SIGINT \
    'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV PG_MAJOR=15' \
    'ENV PGDATA=/var/lib/postgresql/data' \
    'ENV LANG=C.UTF-8' \
    'VOLUME /var/lib/postgresql/data' \
    'EXPOSE 5432' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' \
    'CMD ["postgres"]'
}

build_redis() {
  prepare_rootfs redis
  local root="$WORK/redis"
  chroot_apt redis redis-server
  write_redis_entrypoint "$root/usr/local/bin/docker-entrypoint.sh"
  mkdir -p "$root/data"
  chroot "$root" chown redis:redis /data
  finish_rootfs redis redis
  import_rootfs redis "$REDIS_IMAGE" SIGTERM \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    'WORKDIR /data' \
    'VOLUME /data' \
    'EXPOSE 6379' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' \
    'CMD ["redis-server"]'
}

build_memcached() {
  prepare_rootfs memcached
  local root="$WORK/memcached"
  chroot_apt memcached memcached
  write_memcached_entrypoint "$root/usr/local/bin/docker-entrypoint.sh"
  finish_rootfs memcached memcached
  import_rootfs memcached "$MEMCACHED_IMAGE" SIGTERM \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    'USER memcache' \
    'EXPOSE 11211' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' \
    'CMD ["memcached"]'
}

if [ $rebuild = 1 ]; then
  for img in "$PG_IMAGE" "$REDIS_IMAGE" "$MEMCACHED_IMAGE"; do
    image_exists "$img" && { say "--rebuild: removing $img"; docker rmi "$img" >/dev/null; }
  done
fi
for spec in "postgres:$PG_IMAGE" "redis:$REDIS_IMAGE" "memcached:$MEMCACHED_IMAGE"; do
  name="${spec%%:*}" img="${spec#*:}"
  if image_exists "$img"; then
    say "image $img exists ($(docker image inspect -f '{{.Size}}' "$img" | awk '{printf "%.0f MB", $1/1e6}'))"
    continue
  fi
  [ -n "$WORK" ] || WORK="$(mktemp -d "$CACHE/images/build.XXXXXX")"
  ensure_base_rootfs
  t=$(now_ms)
  "build_$name"
  did_work=1
  say "built $img in $(( ($(now_ms) - t) / 1000 )) s ($(docker image inspect -f '{{.Size}}' "$img" | awk '{printf "%.0f MB", $1/1e6}'))"
done

# ---------------------------------------------------------------- 3. local registry
registry_up() {
  command -v curl >/dev/null 2>&1 || return 1
  curl -fs -o /dev/null --max-time 2 "http://$REGISTRY/v2/"
}
registry_has() {  # registry_has REPO TAG DIGEST: the registry's manifest matches the local image
  local local_id remote
  local_id="$(docker image inspect -f '{{.Id}}' "$REGISTRY/$1:$2" 2>/dev/null)" || return 1
  remote="$(curl -fsS --max-time 5 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/$1/manifests/$2" 2>/dev/null)" || return 1
  # The image id is the digest of the config blob named in the manifest.
  grep -q "\"$local_id\"" <<<"$remote"
}

if [ $registry = 1 ]; then
  apt_install docker-registry curl
  if registry_up; then
    say "registry answers on $REGISTRY"
  else
    mkdir -p "$CACHE/registry/storage"
    cat >"$CACHE/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $CACHE/registry/storage
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
    say "starting docker-registry on $REGISTRY (log: $CACHE/registry.log)"
    setsid nohup docker-registry serve "$CACHE/registry/config.yml" >>"$CACHE/registry.log" 2>&1 </dev/null &
    for _ in $(seq 1 40); do registry_up && break; sleep 0.25; done
    registry_up || { tail -20 "$CACHE/registry.log" >&2; die "docker-registry did not answer on $REGISTRY"; }
  fi
  for img in "$PG_IMAGE" "$REDIS_IMAGE" "$MEMCACHED_IMAGE"; do
    repo="${img%%:*}" tag="${img#*:}"
    docker tag "$img" "$REGISTRY/$img"
    if registry_has "$repo" "$tag"; then
      say "registry already holds $REGISTRY/$img"
    else
      say "docker push $REGISTRY/$img"
      docker push -q "$REGISTRY/$img" >/dev/null || die "docker push $REGISTRY/$img failed"
      did_work=1
    fi
  done
fi

# ---------------------------------------------------------------- 4. verification
[ $verify = auto ] && verify=$did_work
if [ $verify = 1 ]; then
  say "verifying the images"
  VERIFY_CONTAINERS=()
  remove_containers() {
    [ ${#VERIFY_CONTAINERS[@]} -gt 0 ] && docker rm -f -v "${VERIFY_CONTAINERS[@]}" >/dev/null 2>&1 || true
    VERIFY_CONTAINERS=()
  }
  trap 'remove_containers; cleanup' EXIT
  host_port() { docker port "$1" "$2/tcp" | grep -m1 '^127\.0\.0\.1:' | cut -d: -f2; }
  pg_ready() {
    PGCONNECT_TIMEOUT=2 psql -X -q -At "postgresql://labuser:secret@127.0.0.1:$1/labdb" -c 'select 1' 2>/dev/null | grep -qx 1
  }
  redis_ping() {  # redis_ping PORT [PASSWORD]: true when the server answers +PONG
    local out
    # shellcheck disable=SC2016
    out="$(timeout 5 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
      [ -z "$1" ] || printf "AUTH %s\r\n" "$1" >&3
      printf "PING\r\n" >&3
      while read -t 2 -r line <&3; do
        echo "$line"
        case "$line" in +PONG*|-*) break ;; esac
      done' "$1" "${2:-}" 2>/dev/null)" || true
    [[ "$out" == *"+PONG"* ]]
  }
  redis_ready() { redis_ping "$1" secret; }
  memcached_ready() {  # memcached_ready PORT: true when the server answers `version`
    local out
    # shellcheck disable=SC2016
    out="$(timeout 5 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
      printf "version\r\n" >&3
      read -t 2 -r line <&3 && echo "$line"' "$1" 2>/dev/null)" || true
    [[ "$out" == VERSION* ]]
  }
  noauth_ready() { redis_ping "$1"; }
  wait_ready() {  # wait_ready CHECK PORT CONTAINER: prints ms until ready (gives up after 60 s)
    local t0; t0=$(now_ms)
    while [ $(( $(now_ms) - t0 )) -lt 60000 ]; do
      if "$1" "$2"; then echo $(( $(now_ms) - t0 )); return 0; fi
      [ "$(docker inspect -f '{{.State.Running}}' "$3")" = true ] || { docker logs "$3" >&2; return 1; }
      sleep 0.1
    done
    docker logs "$3" >&2
    return 1
  }
  check_image() {  # check_image LABEL CHECK CONTAINER_PORT IMAGE RUN_ARGS...
    local label="$1" check="$2" cport="$3" image="$4"; shift 4
    local c port t0 cold warm stop_ms
    t0=$(now_ms)
    c="$(docker run -d -p "127.0.0.1::$cport" "$@" "$image" ${RUN_CMD:-})" || die "$label: docker run failed"
    VERIFY_CONTAINERS+=("$c")
    port="$(host_port "$c" "$cport")"
    [ -n "$port" ] || die "$label: no port published on 127.0.0.1"
    wait_ready "$check" "$port" "$c" >/dev/null || die "$label: not ready after docker run"
    cold=$(( $(now_ms) - t0 ))
    t0=$(now_ms); docker stop "$c" >/dev/null; stop_ms=$(( $(now_ms) - t0 ))
    [ "$(docker inspect -f '{{.State.ExitCode}}' "$c")" = 0 ] || die "$label: unclean exit on docker stop (code $(docker inspect -f '{{.State.ExitCode}}' "$c"))"
    [ $stop_ms -lt 3000 ] || die "$label: docker stop took $stop_ms ms (limit 3000)"
    t0=$(now_ms); docker start "$c" >/dev/null
    port="$(host_port "$c" "$cport")"
    wait_ready "$check" "$port" "$c" >/dev/null || die "$label: not ready after docker start"
    warm=$(( $(now_ms) - t0 ))
    docker pause "$c" >/dev/null
    [ "$(docker inspect -f '{{.State.Paused}}' "$c")" = true ] || die "$label: docker pause did not pause"
    docker unpause "$c" >/dev/null
    "$check" "$port" || die "$label: not answering after docker unpause"
    say "  $label ok: ready ${cold} ms after docker run, ${warm} ms after docker start; docker stop ${stop_ms} ms; pause/unpause ok"
  }
  command -v psql >/dev/null 2>&1 || apt_install postgresql-client
  check_image "$PG_IMAGE" pg_ready 5432 "$PG_IMAGE" \
    -e POSTGRES_PASSWORD=secret -e POSTGRES_USER=labuser -e POSTGRES_DB=labdb
  RUN_CMD="redis-server --requirepass secret" check_image "$REDIS_IMAGE" redis_ready 6379 "$REDIS_IMAGE"
  # No arguments: protected mode off, reachable from the host without a password.
  c="$(docker run -d -p 127.0.0.1::6379 "$REDIS_IMAGE")"; VERIFY_CONTAINERS+=("$c")
  port="$(host_port "$c" 6379)"
  wait_ready noauth_ready "$port" "$c" >/dev/null || die "$REDIS_IMAGE without arguments: not reachable"
  say "  $REDIS_IMAGE without arguments ok (no password, protected mode off)"
  RUN_CMD="-m 64" check_image "$MEMCACHED_IMAGE" memcached_ready 11211 "$MEMCACHED_IMAGE"
  # POSTGRES_PASSWORD is required, as in the official image.
  if docker run --rm "$PG_IMAGE" >/dev/null 2>&1; then die "$PG_IMAGE started without POSTGRES_PASSWORD"; fi
  say "  $PG_IMAGE refuses to start without POSTGRES_PASSWORD"
  remove_containers
  if [ $registry = 1 ]; then
    docker rmi "$REGISTRY/$PG_IMAGE" >/dev/null || die "docker rmi $REGISTRY/$PG_IMAGE failed"
    t0=$(now_ms)
    docker pull -q "$REGISTRY/$PG_IMAGE" >/dev/null || die "docker pull $REGISTRY/$PG_IMAGE failed"
    say "  docker rmi + docker pull $REGISTRY/$PG_IMAGE ok ($(( $(now_ms) - t0 )) ms)"
  fi
fi

say "done in $(( ($(now_ms) - T0) / 1000 )) s: $(for i in "$PG_IMAGE" "$REDIS_IMAGE" "$MEMCACHED_IMAGE"; do
  docker image inspect -f '{{.Size}}' "$i" | awk -v n="$i" '{printf "%s %.0f MB; ", n, $1/1e6}'; done)registry: $([ $registry = 1 ] && echo "$REGISTRY" || echo off)"
