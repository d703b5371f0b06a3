#!/usr/bin/env bash
# A private system D-Bus with python3-dbusmock's NetworkManager template on it,
# for the network-management tests. Nothing here touches the host's own bus.
#
#   nm-mock-peer.sh start <dir> [--no-nm]   start dbus-daemon (and, unless --no-nm, the NetworkManager mock)
#   nm-mock-peer.sh stop <dir>              stop both, by the PIDs recorded under <dir>
#   nm-mock-peer.sh env <dir>               print the lines below for a running peer
#
# stdout carries only KEY=value lines, so callers can parse them:
#   DBUS_SYSTEM_BUS_ADDRESS=unix:path=<dir>/system_bus_socket  DBUS_PID=<pid>  NM_MOCK_PID=<pid>
# The mock's own log (every call it receives) goes to <dir>/nm-mock.log.
#
# Needs Debian's dbus and python3-dbusmock (scripts/install.sh --test). The mock
# runs under /usr/bin/python3, the interpreter Debian installed the module for,
# whatever python3 comes first on PATH.
set -euo pipefail

PY=/usr/bin/python3

log() { printf 'nm-mock-peer: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -ge 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
cmd=$1
if [ "$cmd" = stop ] && [ ! -d "$2" ]; then exit 0; fi
mkdir -p -- "$2"
dir=$(cd -- "$2" && pwd -P)
sock=$dir/system_bus_socket
# sun_path holds 108 bytes.
[ ${#sock} -lt 100 ] || die "socket path too long (${#sock} bytes): use a shorter <dir>"
address=unix:path=$sock

read_pid() { [ -s "$1" ] && tr -dc '0-9' <"$1" || true; }

# A recorded PID only counts as ours while its command line names this directory.
ours() {
  local pid=$1 line
  [ -n "$pid" ] || return 1
  line=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $line == *"$dir"* ]]
}

stop_pid() {
  local file=$1 pid
  pid=$(read_pid "$file")
  if ours "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do ours "$pid" || break; sleep 0.1; done
    ours "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f -- "$file"
}

print_env() {
  echo "DBUS_SYSTEM_BUS_ADDRESS=$address"
  echo "DBUS_PID=$(read_pid "$dir/dbus.pid")"
  echo "NM_MOCK_PID=$(read_pid "$dir/nm-mock.pid")"
}

name_owned() {
  dbus-send --bus="$address" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.NetworkManager 2>/dev/null | grep -q true
}

start() {
  command -v dbus-daemon >/dev/null || die "dbus-daemon is missing (apt-get install dbus)"
  if ! ours "$(read_pid "$dir/dbus.pid")"; then
    # A mock left from a bus that died is on no bus any more: it goes too.
    stop_pid "$dir/nm-mock.pid"
    rm -f -- "$sock"
    # Everyone may talk to everyone: the tests also connect as an unprivileged user.
    cat >"$dir/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>$address</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
    dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile >"$dir/dbus.log" 2>&1 &
    echo $! >"$dir/dbus.pid"
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
    [ -S "$sock" ] || die "dbus-daemon did not create $sock: $(cat "$dir/dbus.log")"
    chmod 0777 "$sock"
  fi
  if [ "${1:-}" != --no-nm ] && ! ours "$(read_pid "$dir/nm-mock.pid")"; then
    [ -x "$PY" ] && "$PY" -c 'import dbusmock' 2>/dev/null || die "python3-dbusmock is missing (apt-get install python3-dbusmock)"
    # The trailing argument only marks the process as ours (ours() looks for the directory in its command line).
    DBUS_SYSTEM_BUS_ADDRESS=$address "$PY" -m dbusmock --system --template networkmanager -l "$dir/nm-mock.log" >"$dir/nm-mock.out" 2>&1 \
      -p "{\"dir\": \"$dir\"}" &
    echo $! >"$dir/nm-mock.pid"
    for _ in $(seq 100); do name_owned && break; sleep 0.05; done
    name_owned || die "the NetworkManager mock did not come up: $(cat "$dir/nm-mock.out")"
  fi
  print_env
}

case $cmd in
  start) start "${3:-}" ;;
  stop)
    stop_pid "$dir/nm-mock.pid"
    stop_pid "$dir/dbus.pid"
    rm -f -- "$sock"
    ;;
  env) print_env ;;
  *) die "unknown command $cmd" ;;
esac
