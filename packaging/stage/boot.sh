#!/bin/bash
# Runs as PID 1 of a fresh PID + mount + UTS + IPC namespace (started by lib.sh:stage_boot via
# `unshare --pid --fork --mount --uts --ipc`, network namespace shared with the host so that
# services reach the test Hub on 127.0.0.1). Prepares the Debian root ROOT and replaces itself
# with that root's systemd (after pivot_root into the root), booting only hfdl-stage.target (never the default target: that
# would run tmpfiles, sysctl, ... against shared kernel state).
#
#   boot.sh ROOT APT_ARCHIVES_DIR
#
# Every mount below lives in this private mount namespace and vanishes with it.
set -euo pipefail
root=$1
archives=$2

# unshare made the namespace's mounts private already; be explicit, nothing may leak out.
mount --make-rprivate /
# The root must be a mount point of its own (pivot_root needs one; so does systemd).
mount --bind "$root" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
# /sys (cgroups included) is the host's; systemd creates its own cgroups in it (see
# lib.sh:stage_cgroup_cleanup).
mount --rbind /sys "$root/sys"
# A private /dev: systemd and its units create symlinks (/dev/log, ...) and mounts in /dev,
# which must not land in the host's /dev. Only the basic character devices are bound in.
mount -t tmpfs -o mode=0755,nosuid,size=4m tmpfs "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir -p "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
# Volatile directories: tmpfs, so nothing PID 1 or a unit writes there touches the root image
# (or the host's /tmp).
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/var/tmp"
# apt's package cache is shared between runs (excluded from the file lists).
mount --bind "$archives" "$root/var/cache/apt/archives"
# Name resolution for apt inside the root: the host's resolver configuration, bind-mounted
# (a mount, not a file change of the root).
if [ -e "$root/etc/resolv.conf" ] && [ -e /etc/resolv.conf ]; then
    mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
fi
hostname hfdl-stage

mkdir -p "$root/run/systemd/system"
cat >"$root/run/systemd/system/hfdl-stage.target" <<'EOF'
[Unit]
Description=hfdl .deb stage (minimal boot target)
DefaultDependencies=no
Wants=systemd-journald.service
EOF

# Any unit with default dependencies (hfdl-run@.service, timers) pulls in sysinit.target.
# Mask, at runtime only (/run is a tmpfs: no trace in the root), the units of sysinit.target
# that change kernel-wide state shared with the host (sysctls, modules, binfmt, kernel file
# systems, the entropy pool) or write into the root for reasons that have nothing to do
# with the package (machine-id commit, ldconfig/hwdb/catalog updates, random seed).
# lib.sh:stage_boot then starts sysinit.target before step 1, so what remains of it
# (tmpfiles-setup, sysusers, journal flush) has run before the first file list.
for unit in systemd-sysctl.service systemd-modules-load.service kmod-static-nodes.service \
        modprobe@.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
        proc-sys-fs-binfmt_misc.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
        sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount \
        systemd-remount-fs.service systemd-fsck-root.service systemd-random-seed.service \
        systemd-machine-id-commit.service systemd-firstboot.service systemd-pstore.service \
        systemd-tmpfiles-setup-dev.service systemd-hwdb-update.service ldconfig.service \
        systemd-journal-catalog-update.service systemd-update-done.service \
        systemd-tmpfiles-clean.timer systemd-tmpfiles-clean.service; do
    ln -s /dev/null "$root/run/systemd/system/$unit"
done

# Make the root the real root of this mount namespace (pivot_root, not chroot): in a chroot
# the kernel refuses to create user namespaces (unshare(2): EPERM), so every unit with
# PrivateUsers=yes would fail with 217/USER. pivot_root needs private propagation (above);
# `pivot_root . .` stacks the old root on the new one, and the lazy unmount drops it.
cd "$root"
pivot_root . .
umount -l .
cd /
# Without shared propagation LoadCredential= hands services an empty credentials directory
# (systemd mounts it in the service's namespace and needs it to propagate).
mount --make-rshared /
exec /lib/systemd/systemd --system --unit=hfdl-stage.target
