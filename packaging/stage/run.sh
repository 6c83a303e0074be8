#!/bin/bash
# The .deb stage: install the hfdl package into a clean Debian 12 root and drive it with a
# real PID-1 systemd. See packaging/stage/README.md.
#
#   run.sh [--self-test] [DEB [UPGRADE_DEB]]
#
# DEB defaults to the newest dist/hfdl_*_amd64.deb; UPGRADE_DEB (a higher version of it) to
# one built with `make deb VERSION=<version>.1` (into the work directory, not dist/).
# --self-test proves the harness with a stand-in package instead (no hfdl .deb needed).
# Prints PASS/FAIL/INFO lines and the timings; exits 1 if any check failed.
#
# Environment: STAGE_STRICT_SECURITY=1 (exposure score > STAGE_SECURITY_THRESHOLD, default
# 1.2, fails), STAGE_UPGRADE=repack (step 5's package: the same .deb repacked with a higher
# version instead of a second `make deb`), STAGE_KEEP=1 (keep the root in
# /var/tmp/hfdl-stage/root), STAGE_CACHE (/var/cache/hfdl-stage), STAGE_WORK
# (/var/tmp/hfdl-stage).
set -uo pipefail
STAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$STAGE_DIR/../.." && pwd)
# shellcheck source=lib.sh
. "$STAGE_DIR/lib.sh"
# shellcheck source=selftest.sh
. "$STAGE_DIR/selftest.sh"
# shellcheck source=steps.sh
. "$STAGE_DIR/steps.sh"

[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root" >&2; exit 2; }

MODE=real
if [ "${1:-}" = --self-test ]; then MODE=self-test; shift; fi
DEB=${1:-}
UPGRADE_DEB=${2:-}
HUB_PID=""
SNAPSHOT_TAKEN=0
T_START=$(now)

finish() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null && wait "$HUB_PID" 2>/dev/null
    stage_shutdown
    if [ "$SNAPSHOT_TAKEN" = 1 ]; then
        stage_host_restore_and_check
        if [ "${STAGE_KEEP:-0}" != 1 ]; then stage_remove_root || true; fi
    fi
    record_time "total" "$(elapsed "$T_START")"
    echo "---- timings (seconds)"
    local k
    for k in "${TIME_ORDER[@]}"; do printf '  %-34s %s\n' "$k" "${TIMES[$k]}"; done
    if [ "$FAILS" -gt 0 ] || [ "$rc" -ne 0 ]; then
        echo "STAGE FAILED ($FAILS failed checks$([ "$rc" -ne 0 ] && echo ", aborted with exit $rc"))"; exit 1
    fi
    echo "STAGE PASSED ($MODE)"; exit 0
}
trap finish EXIT
trap 'exit 130' INT TERM

# Step 1 helpers (shared with the self-test).
step_file_list_before() {
    root_file_list >"$STAGE_WORK/files.before"
    pass "1 file list of the clean root: $(wc -l <"$STAGE_WORK/files.before") entries ($STAGE_WORK/files.before)"
}

# Compare the root's file list with step 1. $1: an extended regex of paths allowed to stay
# (the model cache), reported as INFO.
step_file_list_compare() {
    local allowed=$1 unexpected
    root_file_list >"$STAGE_WORK/files.after"
    # comm, not diff: a line of the list starts with the mode, "-rw-r--r--" for a file, which
    # a filter of diff's "---"/"+++" headers would drop.
    { comm -23 <(sort "$STAGE_WORK/files.before") <(sort "$STAGE_WORK/files.after") | sed 's/^/-/'
      comm -13 <(sort "$STAGE_WORK/files.before") <(sort "$STAGE_WORK/files.after") | sed 's/^/+/'
    } | sort -k3 >"$STAGE_WORK/files.diff"
    if [ -n "$allowed" ]; then
        unexpected=$(awk '{print $1, $3}' "$STAGE_WORK/files.diff" | grep -Ev "^[-+][^ ]* ($allowed)" || true)
    else
        unexpected=$(cat "$STAGE_WORK/files.diff")
    fi
    echo "---- file list diff after purge (- gone, + left behind):"
    sed 's/^/    /' "$STAGE_WORK/files.diff" | head -100
    [ "$(wc -l <"$STAGE_WORK/files.diff")" -le 100 ] || echo "    ... (all $(wc -l <"$STAGE_WORK/files.diff") lines in $STAGE_WORK/files.diff)"
    if [ -z "$unexpected" ]; then
        pass "6 purge: the root's file list equals step 1's$([ -n "$allowed" ] && echo " except the allowed paths ($allowed)")"
    else
        fail "6 purge: $(wc -l <<<"$unexpected") unexpected differences with step 1 (listed above)"
    fi
}

# One stage at a time on a machine: they share the work directory, and PID 1's cgroups.
mkdir -p "$STAGE_CACHE"
exec 9>"$STAGE_CACHE/.lock"
if ! flock -n 9; then
    log "another stage is running; waiting for it"
    flock 9
fi
stage_host_snapshot
SNAPSHOT_TAKEN=1
stage_make_root || exit 1
stage_boot || exit 1
if [ "$MODE" = self-test ]; then
    selftest_steps
else
    real_steps
fi
