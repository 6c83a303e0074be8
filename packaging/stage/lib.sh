# shellcheck shell=bash
# Harness of the .deb stage: a clean Debian 12 root (cached), a PID-1 systemd booted in it in
# private namespaces, commands run inside it, teardown and host hygiene checks.
# Sourced by run.sh; every function prints what it does on stderr.

STAGE_DIR=${STAGE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
STAGE_CACHE=${STAGE_CACHE:-/var/cache/hfdl-stage}
# Work directory on disk, never under the host's /tmp.
STAGE_WORK=${STAGE_WORK:-/var/tmp/hfdl-stage}
STAGE_SUITE=${STAGE_SUITE:-bookworm}
STAGE_MIRROR=${STAGE_MIRROR:-http://deb.debian.org/debian}
ROOT=$STAGE_WORK/root
PID1=""          # host pid of the root's systemd (PID 1 of the namespace)
UNSHARE_PID=""   # host pid of the unshare process
FAILS=0

log() { printf '[stage %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; FAILS=$((FAILS + 1)); }
info() { printf 'INFO %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

declare -A TIMES=()
TIME_ORDER=()
# shellcheck disable=SC2034  # TIMES is read by run.sh
record_time() { TIMES[$1]=$2; TIME_ORDER+=("$1"); }

# ---------------------------------------------------------------------------- the root ----

# The cache key: suite + the package set; bump STAGE_ROOT_REV to force a rebuild.
stage_root_tarball() {
    echo "$STAGE_CACHE/root-$STAGE_SUITE-apt-systemd-r${STAGE_ROOT_REV:-2}.tar.zst"
}

# Create $ROOT from the cached tarball, building the tarball first if missing (cold).
stage_make_root() {
    local tarball t0
    tarball=$(stage_root_tarball)
    mkdir -p "$STAGE_CACHE/archives/partial" "$STAGE_WORK"
    if [ ! -s "$tarball" ]; then
        command -v mmdebstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq mmdebstrap zstd >/dev/null; }
        log "building $tarball with mmdebstrap (cold)"
        t0=$(now)
        # variant apt: Essential + apt; systemd: PID 1 of the stage (the .deb must not rely on
        # anything else being there). mmdebstrap removes the apt lists: apt-get update runs at
        # install time, so the cache never holds stale indices.
        rm -f "$STAGE_CACHE/building.tar.zst"
        # The hook makes the root look like any installed system in a detail that purge
        # (rightly) never undoes: systemd's stamp directory of Persistent= timers. (ldconfig's
        # aux-cache, the other one, mmdebstrap deletes for reproducibility: stage_boot runs
        # ldconfig instead.)
        mmdebstrap --quiet --variant=apt --include=systemd \
            --customize-hook='mkdir -p "$1/var/lib/systemd/timers"' \
            "$STAGE_SUITE" "$STAGE_CACHE/building.tar.zst" "$STAGE_MIRROR" || return 1
        mv "$STAGE_CACHE/building.tar.zst" "$tarball"
        record_time "root build (mmdebstrap, cold)" "$(elapsed "$t0")"
    fi
    stage_remove_root
    t0=$(now)
    mkdir -p "$ROOT"
    tar --zstd -xpf "$tarball" -C "$ROOT" --numeric-owner || return 1
    record_time "root unpack (warm)" "$(elapsed "$t0")"
}

stage_remove_root() {
    # Only ever delete an unmounted root: PID 1 must be gone (its mounts go with it).
    if [ -d "$ROOT" ]; then
        if grep -q " ${ROOT}[/ ]" /proc/self/mountinfo; then
            log "refusing to delete $ROOT: something is mounted below it"; return 1
        fi
        rm -rf --one-file-system "$ROOT"
    fi
}

# ------------------------------------------------------------------------ host hygiene ----

HOST_SNAP=$STAGE_WORK/host
# Kernel values that are global (not namespaced) and that a PID-1 systemd is known or
# suspected to change, plus a full `sysctl -a` for the diff.
HOST_SYSCTLS=(fs.file-max fs.nr_open kernel.printk_devkmsg kernel.pid_max kernel.core_pattern kernel.printk fs.inotify.max_user_instances fs.inotify.max_user_watches kernel.sysrq)
# Ever-changing values, ignored in the full diff.
VOLATILE_SYSCTL_RE='^(fs\.(dentry-state|file-nr|inode-nr|inode-state|quota\.)|kernel\.(random\.|ns_last_pid|pty\.nr|hostname|domainname|sched_domain)|net\.|vm\.(stat_|nr_)|fs\.aio-nr|kernel\.(perf_|keys\.)|dev\.)'

stage_host_snapshot() {
    mkdir -p "$HOST_SNAP"
    ls -A /tmp | sort >"$HOST_SNAP/tmp.before"
    sysctl -a 2>/dev/null | grep -Ev "$VOLATILE_SYSCTL_RE" | sort >"$HOST_SNAP/sysctl.before"
    for k in "${HOST_SYSCTLS[@]}"; do sysctl -n "$k" 2>/dev/null >"$HOST_SNAP/sysctl.$k" || true; done
    find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d 2>/dev/null | sort >"$HOST_SNAP/cgroups.before"
    hostname >"$HOST_SNAP/hostname"
}

# Restore what PID 1 changed; check /tmp, sysctls, cgroups, hostname. Prints PASS/FAIL.
stage_host_restore_and_check() {
    local k v restored=()
    for k in "${HOST_SYSCTLS[@]}"; do
        [ -f "$HOST_SNAP/sysctl.$k" ] || continue
        v=$(cat "$HOST_SNAP/sysctl.$k")
        if [ -n "$v" ] && [ "$(sysctl -n "$k" 2>/dev/null)" != "$v" ]; then
            # fs.nr_open must stay <= fs.file-max's effective ceiling; restore nr_open first.
            sysctl -q -w "$k=$v" && restored+=("$k=$v")
        fi
    done
    if [ -n "${HOST_SYSCTLS[*]}" ] && [ ${#restored[@]} -gt 0 ]; then
        info "host sysctls changed by PID 1 and restored: ${restored[*]}"
    fi
    sysctl -a 2>/dev/null | grep -Ev "$VOLATILE_SYSCTL_RE" | sort >"$HOST_SNAP/sysctl.after"
    if diff -u "$HOST_SNAP/sysctl.before" "$HOST_SNAP/sysctl.after" >"$HOST_SNAP/sysctl.diff"; then
        pass "host: sysctl values as before the stage"
    else
        fail "host: sysctl values differ after the stage:"; sed 's/^/    /' "$HOST_SNAP/sysctl.diff"
    fi
    stage_cgroup_cleanup
    ls -A /tmp | sort >"$HOST_SNAP/tmp.after"
    local gone total
    gone=$(comm -23 "$HOST_SNAP/tmp.before" "$HOST_SNAP/tmp.after" | wc -l)
    total=$(wc -l <"$HOST_SNAP/tmp.before")
    # Other jobs share this machine's /tmp and may remove their own files meanwhile; what the
    # stage must never do is empty it (tmpfiles of a booted default target did exactly that).
    if [ "$gone" -eq 0 ]; then
        pass "host: /tmp untouched ($total entries before, none gone; $(comm -13 "$HOST_SNAP/tmp.before" "$HOST_SNAP/tmp.after" | wc -l) new, from other jobs)"
    elif [ $((gone * 2)) -le "$total" ]; then
        info "host: /tmp lost $gone of $total entries, most likely removed by other jobs on this machine (PID 1 emptying /tmp would take them all): $(comm -23 "$HOST_SNAP/tmp.before" "$HOST_SNAP/tmp.after" | head -10 | tr '\n' ' ')"
    else
        fail "host: /tmp lost $gone of $total entries: $(comm -23 "$HOST_SNAP/tmp.before" "$HOST_SNAP/tmp.after" | head -20 | tr '\n' ' ')"
    fi
    if [ "$(hostname)" = "$(cat "$HOST_SNAP/hostname")" ]; then
        pass "host: hostname unchanged"
    else
        fail "host: hostname changed to $(hostname)"; hostname "$(cat "$HOST_SNAP/hostname")"
    fi
}

# PID 1 creates its cgroups (init.scope, system.slice/...) in the host's cgroup hierarchies
# (no cgroup namespace on this cgroup-v1 host). Remove the ones it created, once empty.
stage_cgroup_cleanup() {
    local left=0 d
    find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d 2>/dev/null | sort >"$HOST_SNAP/cgroups.after"
    for d in $(comm -13 "$HOST_SNAP/cgroups.before" "$HOST_SNAP/cgroups.after"); do
        case "$(basename "$d")" in
            init.scope|system.slice|user.slice|machine.slice|-.slice) ;;
            *) continue ;;
        esac
        # depth first: the slices hold the services' cgroups
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [ -d "$d" ] && left=$((left + 1))
    done
    if [ "$left" -eq 0 ]; then
        pass "host: cgroups created by PID 1 removed"
    else
        fail "host: $left cgroup directories of PID 1 could not be removed"
    fi
}

# ------------------------------------------------------------------------------ PID 1 ----

stage_boot() {
    local t0 _ state
    t0=$(now)
    unshare --pid --fork --mount --uts --ipc --propagation private \
        "$STAGE_DIR/boot.sh" "$ROOT" "$STAGE_CACHE/archives" \
        >"$STAGE_WORK/pid1.console" 2>&1 &
    UNSHARE_PID=$!
    for _ in $(seq 1 100); do
        PID1=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null | awk '{print $1}')
        if [ -n "$PID1" ] && [ "$(readlink "/proc/$PID1/exe" 2>/dev/null)" = "$ROOT/usr/lib/systemd/systemd" ] ||
           { [ -n "$PID1" ] && readlink "/proc/$PID1/exe" 2>/dev/null | grep -q 'systemd/systemd$'; }; then
            break
        fi
        kill -0 "$UNSHARE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$PID1" ] || ! kill -0 "$PID1" 2>/dev/null; then
        fail "boot: PID 1 did not start"; sed 's/^/    /' "$STAGE_WORK/pid1.console"; return 1
    fi
    for _ in $(seq 1 150); do
        state=$(in_root systemctl is-system-running 2>/dev/null || true)
        case "$state" in running|degraded) break ;; esac
        sleep 0.2
    done
    # sysinit.target (what is left of it, see boot.sh) now, before the first file list:
    # every unit with default dependencies would pull it in later.
    in_root systemctl start sysinit.target || true
    # ldconfig's aux-cache: written by libc-bin's trigger when any library package is
    # installed, never removed; every installed system has it.
    in_root ldconfig
    local failed
    failed=$(in_root systemctl list-units --state=failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')
    [ -z "$failed" ] || info "boot: failed units after sysinit.target: $failed"
    if in_root systemctl is-active --quiet systemd-journald.service; then
        pass "boot: systemd PID 1 up in the root (host pid $PID1, state '$state', journald active) in $(elapsed "$t0") s"
    else
        fail "boot: PID 1 state '$state', journald not active"; in_root systemctl --no-pager --failed || true
        return 1
    fi
    record_time "boot PID 1" "$(elapsed "$t0")"
}

# Run a command inside the booted root, as root, with a clean environment.
in_root() {
    nsenter -t "$PID1" -m -p -u -i -r -w \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive SYSTEMD_PAGER= \
        "$@"
}

# Copy a host file into the root's /tmp (a tmpfs: leaves no trace in the root's file list).
copy_in() {
    in_root sh -c 'cat >"$1"' sh "$2" <"$1"
}

# End PID 1 with SIGKILL (SIGTERM makes it re-execute); the kernel kills the namespace.
stage_shutdown() {
    if [ -n "$PID1" ] && kill -0 "$PID1" 2>/dev/null; then
        kill -KILL "$PID1" 2>/dev/null || true
    fi
    if [ -n "$UNSHARE_PID" ]; then
        wait "$UNSHARE_PID" 2>/dev/null || true
    fi
    PID1=""; UNSHARE_PID=""
}

# The root's file list, as in step 1 (volatile and apt-internal paths excluded).
root_file_list() {
    in_root find / -xdev \
        \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp \
           -o -path /var/cache/apt -o -path /var/lib/apt/lists -o -path /var/log \) -prune \
        -o -printf '%M %u:%g %p\n' | sort -k3
}
