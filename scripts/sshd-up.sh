#!/usr/bin/env bash
# Start an OpenSSH server on loopback so that `ssh localhost <cmd>` works non-interactively for
# root: the "remote" login node of the SSH / tunnel / SLURM-over-SSH tests.
# Idempotent: installs openssh-server if missing, creates host keys, a passphrase-less root key
# (passwd home ~/.ssh/id_ed25519), authorizes it, pre-seeds known_hosts (remote-http-launcher calls
# ssh without BatchMode), starts sshd if it is not running with the wanted environment.
#
# Environment:
#   VENV        absolute path of the project virtualenv (default: <repo>/.venv). ssh sessions get
#               PATH=$VENV/bin:... through sshd's SetEnv, so remote commands find
#               seamless-dask-wrapper and the rhl-* helpers without an activated venv.
#   SSHD_PORT   port (default 22; if 22 is held by another process, 2222 is used and a
#               "Host localhost 127.0.0.1" block with that Port is written to ~/.ssh/config)
# Pid file: /run/sshd-loopback.pid   Log: /var/log/sshd-loopback.log   Stop with sshd-down.sh.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "sshd-up.sh: must run as root" >&2; exit 1; fi
HERE="$(cd "$(dirname "$0")" && pwd)"
cd "$HERE/.."
VENV="${VENV:-$PWD/.venv}"
VENV="$(cd "$VENV" 2>/dev/null && pwd || echo "$VENV")"

PIDFILE=/run/sshd-loopback.pid
ENVFILE=/run/sshd-loopback.setenv
LOG=/var/log/sshd-loopback.log
SSHDIR="$(getent passwd root | cut -d: -f6)/.ssh"   # ssh reads the passwd home, not $HOME
SETENV="PATH=$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
          && [ "$(cat /proc/"$(cat "$PIDFILE")"/comm 2>/dev/null)" = sshd ]; }

# 1. packages
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null || ! command -v ssh-keyscan >/dev/null; then
  echo "sshd-up: installing openssh-server" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends openssh-server openssh-client >/tmp/sshd-up-apt.log 2>&1 \
    || { apt-get update >/dev/null 2>&1 \
         && apt-get install -y --no-install-recommends openssh-server openssh-client >/tmp/sshd-up-apt.log 2>&1; } \
    || { echo "sshd-up: apt-get install failed, see /tmp/sshd-up-apt.log" >&2; exit 1; }
fi

# 2. host keys + privilege-separation dir (normally made by systemd's RuntimeDirectory=sshd)
ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A
install -d -m 755 /run/sshd

# 3. root client key, authorized_keys
install -d -m 700 "$SSHDIR"
[ -f "$SSHDIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "root@loopback-test" -f "$SSHDIR/id_ed25519"
touch "$SSHDIR/authorized_keys"; chmod 600 "$SSHDIR/authorized_keys"
grep -qF "$(cut -d' ' -f2 "$SSHDIR/id_ed25519.pub")" "$SSHDIR/authorized_keys" \
  || cat "$SSHDIR/id_ed25519.pub" >> "$SSHDIR/authorized_keys"

# 4. an sshd of ours started with another environment (say, another venv) is restarted
if alive && [ "$(cat "$ENVFILE" 2>/dev/null)" != "$SETENV" ]; then
  echo "sshd-up: restarting sshd for SetEnv $SETENV" >&2
  "$HERE/sshd-down.sh" >&2
fi

# 5. port
PORT="${SSHD_PORT:-22}"
if ! alive; then
  if ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q .; then
    if [ -z "${SSHD_PORT:-}" ]; then
      echo "sshd-up: port 22 busy, using 2222" >&2; PORT=2222
    else
      echo "sshd-up: port $PORT busy" >&2; exit 1
    fi
  fi
  echo "$PORT" > /run/sshd-loopback.port
fi
PORT="$(cat /run/sshd-loopback.port 2>/dev/null || echo "$PORT")"
if [ "$PORT" != 22 ]; then
  touch "$SSHDIR/config"; chmod 600 "$SSHDIR/config"
  sed -i '/^# BEGIN sshd-up.sh/,/^# END sshd-up.sh/d' "$SSHDIR/config"
  printf '# BEGIN sshd-up.sh\nHost localhost 127.0.0.1 %s\n    Port %s\n# END sshd-up.sh\n' "$(hostname -s)" "$PORT" \
    | cat - "$SSHDIR/config" > "$SSHDIR/config.new" && mv "$SSHDIR/config.new" "$SSHDIR/config"
fi

# 6. start sshd (Debian's default config allows root login by key: PermitRootLogin prohibit-password)
if ! alive; then
  /usr/sbin/sshd -t
  /usr/sbin/sshd -f /etc/ssh/sshd_config \
      -o "ListenAddress=127.0.0.1:$PORT" \
      -o "PidFile=$PIDFILE" \
      -o "PasswordAuthentication=no" \
      -o "UsePAM=no" \
      -o "SetEnv=$SETENV" \
      -E "$LOG"
  for _ in $(seq 1 50); do alive && break; sleep 0.1; done
  alive || { echo "sshd-up: sshd did not start, see $LOG" >&2; tail "$LOG" >&2; exit 1; }
  echo "$SETENV" > "$ENVFILE"
  echo "sshd-up: sshd started (pid $(cat $PIDFILE), 127.0.0.1:$PORT)" >&2
fi

# 7. known_hosts (refreshed every time: host keys may be new)
touch "$SSHDIR/known_hosts"; chmod 644 "$SSHDIR/known_hosts"
SCAN="$(ssh-keyscan -p "$PORT" -T 5 127.0.0.1 2>/dev/null)"
for h in localhost 127.0.0.1 "$(hostname -s)"; do
  if [ "$PORT" = 22 ]; then key="$h"; else key="[$h]:$PORT"; fi
  ssh-keygen -R "$key" -f "$SSHDIR/known_hosts" >/dev/null 2>&1 || true
  sed "s/^[^ ]*/$key/" <<<"$SCAN" >> "$SSHDIR/known_hosts"
done

# 8. check: the session finds the venv's tools (root's ~/.bashrc may still prepend to PATH)
found="$(ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 localhost \
         'command -v rhl-launch-service seamless-dask-wrapper' || true)"
if [ "$found" != "$(printf '%s\n%s' "$VENV/bin/rhl-launch-service" "$VENV/bin/seamless-dask-wrapper")" ]; then
  echo "sshd-up: ssh sessions do not find the tools of $VENV/bin (found: ${found:-nothing})" >&2
  exit 1
fi
echo "sshd-up: ok (ssh localhost works; port $PORT; tools from $VENV/bin)" >&2
