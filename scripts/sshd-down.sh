#!/usr/bin/env bash
# Stop the loopback sshd started by sshd-up.sh (by its pid file). Keys and known_hosts are kept.
# Per-connection sshd children (open sessions, tunnels) finish on their own.
set -u
PIDFILE=/run/sshd-loopback.pid
SSHDIR="$(getent passwd root | cut -d: -f6)/.ssh"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
   && [ "$(cat /proc/"$(cat "$PIDFILE")"/comm 2>/dev/null)" = sshd ]; then
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  echo "sshd-down: sshd ($pid) stopped" >&2
else
  echo "sshd-down: not running" >&2
fi
rm -f "$PIDFILE" /run/sshd-loopback.port /run/sshd-loopback.setenv
# drop the Port block sshd-up.sh writes when it is not on port 22
if [ -f "$SSHDIR/config" ]; then
  sed -i "/^# BEGIN sshd-up.sh/,/^# END sshd-up.sh/d" "$SSHDIR/config"
  [ -s "$SSHDIR/config" ] || rm -f "$SSHDIR/config"
fi
exit 0
