#!/usr/bin/env bash
# A private Docker engine and a password-protected registry for integration tests.
#
#   docker-peer.sh start <dir>            start (or reuse) dockerd + registry under <dir>
#   docker-peer.sh stop <dir>             stop both, by the PIDs recorded under <dir>
#   docker-peer.sh restart-engine <dir> [TERM|KILL]
#                                         stop dockerd only (default TERM) and start it again
#                                         on the same data root; the registry keeps running
#   docker-peer.sh env <dir>              print the lines below for a running peer
#
# stdout carries only KEY=value lines, so callers can parse them:
#   DOCKER_HOST=unix://<dir>/docker.sock  REGISTRY=127.0.0.1:<port>
#   REGISTRY_USER=...  REGISTRY_PASSWORD=...  IMAGE=local/busybox:test  STORAGE_DRIVER=...
# Progress and diagnostics go to stderr.
#
# Networking flags keep dockerd away from the host's iptables, ip_forward and bridges:
# containers get `none` or `host` networking only. dockerd treats 127.0.0.0/8 registries
# as insecure by default, so the registry speaks plain HTTP on loopback.
#
# Optional environment: REGISTRY_PORT, REGISTRY_USER, REGISTRY_PASSWORD,
# STORAGE_DRIVER (skip the overlay2 attempt), DOCKERD_START_TIMEOUT (seconds, default 60).
set -euo pipefail
# dockerd and friends live in sbin; a caller's PATH (a user's shell, `npm run bench`) may lack it,
# while spec/helpers/docker-peer.ts checks these directories too.
export PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"

IMAGE=local/busybox:test
APPLETS="sh ls echo cat sleep env id hostname nc wget httpd true false seq date yes head"

log() { printf 'docker-peer: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,9p' "$0" >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
if [ "$cmd" = stop ] && [ ! -d "$2" ]; then exit 0; fi
mkdir -p -- "$2"
dir=$(cd -- "$2" && pwd -P)

sock=$dir/docker.sock
# sun_path holds 108 bytes; a longer socket path fails with a confusing bind error.
[ ${#sock} -lt 100 ] || die "socket path too long (${#sock} bytes): use a shorter <dir>"

root=$dir/docker/root
exec_root=$dir/docker/exec
reg=$dir/registry
export DOCKER_CONFIG=$dir/cli   # never touch the user's ~/.docker
export DOCKER_HOST=unix://$sock
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

read_pid() { [ -s "$1" ] && tr -dc '0-9' <"$1" || true; }

# A PID file can outlive its process and the number can be reused, so a PID only
# counts as ours when its command line mentions this peer's directory.
ours() {
  local pid=$1 line
  [ -n "$pid" ] || return 1
  # (not `tr | grep -q`: with pipefail, grep quitting early fails the pipeline)
  line=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $line == *"$dir/"* ]]
}

stop_pid() { # stop_pid <pid> <signal> <seconds before KILL>
  local pid=$1 sig=$2 wait_s=$3 i
  ours "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait_s * 10; i++)); do
    ours "$pid" || return 0   # zombies have an empty cmdline, so they count as gone
    sleep 0.1
  done
  log "PID $pid ignored SIG$sig for ${wait_s}s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do ours "$pid" || return 0; sleep 0.1; done
}

engine_answers() { timeout 5 docker info >/dev/null 2>&1; }

tail_log() { log "last lines of $1:"; tail -n 30 "$1" >&2 2>/dev/null || true; }

launch_dockerd() { # launch_dockerd <storage driver>
  : >"$dir/dockerd.log"
  # setsid: a Ctrl-C meant for the test runner must not kill the engine halfway;
  # callers stop it through `stop`.
  setsid dockerd \
    --config-file "$dir/daemon.json" \
    --data-root "$root" --exec-root "$exec_root" \
    --pidfile "$dir/dockerd.pid" -H "unix://$sock" \
    --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
    --storage-driver="$1" --shutdown-timeout 5 \
    </dev/null >>"$dir/dockerd.log" 2>&1 &
  local pid=$! limit=${DOCKERD_START_TIMEOUT:-60} i
  echo "$pid" >"$dir/dockerd.launch.pid"
  for ((i = 0; i < limit * 5; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      return 1
    fi
    engine_answers && return 0
    sleep 0.2
  done
  log "dockerd did not answer within ${limit}s"
  stop_pid "$pid" TERM 10
  return 1
}

start_dockerd() {
  local pid
  pid=$(read_pid "$dir/dockerd.pid")
  if ours "$pid" && engine_answers; then
    log "dockerd already running (PID $pid)"
    return 0
  fi
  stop_dockerd TERM
  rm -f -- "$sock" "$dir/dockerd.pid"
  mkdir -p "$root" "$exec_root" "$DOCKER_CONFIG"
  # An empty config file so /etc/docker/daemon.json of the host never applies.
  [ -f "$dir/daemon.json" ] || echo '{}' >"$dir/daemon.json"

  local driver
  if [ -s "$dir/storage-driver" ]; then
    driver=$(cat "$dir/storage-driver")   # a data root only works with the driver that wrote it
  else
    driver=${STORAGE_DRIVER:-overlay2}
  fi
  log "starting dockerd ($driver) on $sock"
  if ! launch_dockerd "$driver"; then
    if [ ! -s "$dir/storage-driver" ] && [ "$driver" = overlay2 ]; then
      log "overlay2 failed, retrying with vfs"
      tail_log "$dir/dockerd.log"
      rm -rf -- "$root"
      mkdir -p "$root"
      driver=vfs
      launch_dockerd vfs || { tail_log "$dir/dockerd.log"; die "dockerd failed to start"; }
    else
      tail_log "$dir/dockerd.log"
      die "dockerd failed to start"
    fi
  fi
  echo "$driver" >"$dir/storage-driver"
}

stop_dockerd() { # stop_dockerd <TERM|KILL>
  local sig=${1:-TERM} pid cpid
  for pid in $(read_pid "$dir/dockerd.pid") $(read_pid "$dir/dockerd.launch.pid"); do
    stop_pid "$pid" "$sig" 30
  done
  rm -f -- "$dir/dockerd.pid" "$dir/dockerd.launch.pid"
  cpid=$(read_pid "$exec_root/containerd/containerd.pid")
  if [ "$sig" = KILL ]; then
    # dockerd starts its containerd with Pdeathsig=KILL, so containerd dies too. Until
    # init reaps it, kill(pid, 0) still succeeds, and a restarted dockerd then "adopts"
    # the corpse and times out waiting for its socket. Dropping the PID file once the
    # process is dead makes dockerd start a fresh containerd.
    local i
    for ((i = 0; i < 50; i++)); do ours "$cpid" || break; sleep 0.1; done
    ours "$cpid" || rm -f -- "$exec_root/containerd/containerd.pid"
  else
    stop_pid "$cpid" TERM 10
  fi
}

stop_leftover_shims() {
  # Shims are re-parented to init when containerd dies; find ours by the containerd
  # socket path in their command line and stop them one by one.
  local p pid line
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    line=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    if [[ $line == *"$exec_root/"* ]]; then
      log "stopping leftover process $pid: ${line:0:120}"
      stop_pid "$pid" TERM 5
    fi
  done
}

unmount_leftovers() {
  # overlay2 bind-mounts the data root onto itself (to make it private) and leaves
  # that mount behind on shutdown; unmount everything under <dir>, deepest first.
  local m
  awk '{print $5}' /proc/self/mountinfo | grep -F -- "$dir/" | sort -r | while read -r m; do
    umount -- "$m" 2>/dev/null || umount -l -- "$m" 2>/dev/null || log "could not unmount $m"
  done || true
}

ensure_image() {
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then return 0; fi
  local bb tmp a
  bb=$(command -v busybox || true)
  [ -n "$bb" ] || die "busybox not found (apt-get install -y busybox-static)"
  if ldd "$bb" >/dev/null 2>&1; then die "$bb is dynamically linked; install busybox-static"; fi
  tmp=$(mktemp -d "$dir/rootfs.XXXXXX")
  mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp" "$tmp/proc" "$tmp/sys" "$tmp/dev"
  chmod 1777 "$tmp/tmp"
  cp "$bb" "$tmp/bin/busybox"
  for a in $APPLETS; do ln -s busybox "$tmp/bin/$a"; done
  echo 'root:x:0:0:root:/:/bin/sh' >"$tmp/etc/passwd"
  echo 'root:x:0:' >"$tmp/etc/group"
  tar -C "$tmp" -cf "$dir/busybox.tar" .
  rm -rf -- "$tmp"
  docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' "$dir/busybox.tar" "$IMAGE" >/dev/null
  log "imported $IMAGE"
}

free_port() {
  if command -v node >/dev/null; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
  fi
}

registry_status() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/v2/" 2>/dev/null || true; }

start_registry() {
  mkdir -p "$reg/data"
  local port user pass pid i
  port=$(cat "$dir/registry.port" 2>/dev/null || true)
  [ -n "$port" ] || port=${REGISTRY_PORT:-$(free_port)}
  echo "$port" >"$dir/registry.port"
  if [ ! -s "$reg/credentials" ]; then
    user=${REGISTRY_USER:-reagent}
    pass=${REGISTRY_PASSWORD:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
    (umask 077 && printf '%s\n%s\n' "$user" "$pass" >"$reg/credentials")
    # -i reads the password from stdin, so it never shows up in `ps`.
    printf '%s' "$pass" | htpasswd -Bin "$user" >"$reg/htpasswd" 2>/dev/null
  fi

  pid=$(read_pid "$dir/registry.pid")
  if ours "$pid" && [ "$(registry_status "$port")" = 401 ]; then
    log "registry already running (PID $pid)"
    return 0
  fi
  stop_pid "$pid" TERM 10
  cat >"$reg/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $reg/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
auth:
  htpasswd:
    realm: reagent-test
    path: $reg/htpasswd
EOF
  : >"$dir/registry.log"
  setsid docker-registry serve "$reg/config.yml" </dev/null >>"$dir/registry.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/registry.pid"
  for ((i = 0; i < 150; i++)); do
    [ "$(registry_status "$port")" = 401 ] && { log "registry on 127.0.0.1:$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  tail_log "$dir/registry.log"
  die "registry did not come up on 127.0.0.1:$port (port taken? set REGISTRY_PORT or delete $dir/registry.port)"
}

print_env() {
  local cred
  cred=$(cat "$reg/credentials")
  echo "DOCKER_HOST=unix://$sock"
  echo "REGISTRY=127.0.0.1:$(cat "$dir/registry.port")"
  echo "REGISTRY_USER=$(sed -n 1p <<<"$cred")"
  echo "REGISTRY_PASSWORD=$(sed -n 2p <<<"$cred")"
  echo "IMAGE=$IMAGE"
  echo "STORAGE_DRIVER=$(cat "$dir/storage-driver")"
}

case $cmd in
  start)
    command -v dockerd >/dev/null || die "dockerd not found (apt-get install -y docker.io)"
    command -v docker-registry >/dev/null || die "docker-registry not found (apt-get install -y docker-registry)"
    command -v htpasswd >/dev/null || die "htpasswd not found (apt-get install -y apache2-utils)"
    [ "$(id -u)" = 0 ] || die "dockerd needs root"
    start_dockerd
    ensure_image
    start_registry
    print_env
    ;;
  restart-engine)
    sig=${3:-TERM}
    case $sig in TERM | KILL) ;; *) die "signal must be TERM or KILL" ;; esac
    stop_dockerd "$sig"
    start_dockerd
    print_env
    ;;
  stop)
    if engine_answers; then
      # Containers that ignore SIGTERM (sleep as PID 1 does) would hold up dockerd's
      # shutdown for 10 s each; this engine is private to the peer, so kill them all.
      ids=$(timeout 10 docker ps -q 2>/dev/null || true)
      [ -z "$ids" ] || timeout 20 docker kill $ids >/dev/null 2>&1 || true
    fi
    stop_pid "$(read_pid "$dir/registry.pid")" TERM 10
    rm -f -- "$dir/registry.pid"
    stop_dockerd TERM
    cpid=$(read_pid "$exec_root/containerd/containerd.pid")
    stop_pid "$cpid" TERM 10
    stop_leftover_shims
    unmount_leftovers
    log "stopped"
    ;;
  env) print_env ;;
  *) usage ;;
esac
