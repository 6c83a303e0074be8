# shellcheck shell=bash
# Steps 1-6 of the .deb stage against the real hfdl package (sourced by run.sh).

HUB_REPO=stage-org/tiny-model
HUB_TOKEN=hf_stageTOKEN$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
SCHEDULE=stage
CACHE_DIR=/var/cache/huggingface   # the package's model cache (tmpfiles.d), kept on purge
SECURITY_THRESHOLD=${STAGE_SECURITY_THRESHOLD:-1.2}

# The newest dist/hfdl_*_amd64.deb, by Debian version order.
newest_deb() {
    local best="" f v bv=""
    for f in "$REPO"/dist/hfdl_*_amd64.deb; do
        [ -e "$f" ] || continue
        v=$(dpkg-deb -f "$f" Version)
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bv"; then best=$f; bv=$v; fi
    done
    echo "$best"
}

# Build the upgrade package with `make deb VERSION=<current>.1` (the Makefile takes VERSION=,
# BUILD_DIR= and DIST_DIR=), into the stage's work directory: dist/ and build/ stay as they are.
build_upgrade_deb() {
    local cur=$1 next
    next="$cur.1"
    if ! grep -Eq '^[[:space:]]*VERSION[[:space:]]*[?:]?=' "$REPO/Makefile" 2>/dev/null; then
        echo "no VERSION= in the Makefile" >&2; return 1
    fi
    make -C "$REPO" deb VERSION="$next" BUILD_DIR="$STAGE_WORK/build" DIST_DIR="$STAGE_WORK/debs" \
        >"$STAGE_WORK/make-deb-upgrade.log" 2>&1 || {
        echo "make deb VERSION=$next failed (log: $STAGE_WORK/make-deb-upgrade.log)" >&2; return 1; }
    local built
    built=$(ls "$STAGE_WORK/debs/hfdl_${next}_"*.deb 2>/dev/null | head -1)
    [ -n "$built" ] || { echo "make deb VERSION=$next did not produce $STAGE_WORK/debs/hfdl_${next}_*.deb" >&2; return 1; }
    rm -rf "$STAGE_WORK/build"
    echo "$built"
}

# The cheap alternative (STAGE_UPGRADE=repack): the same package with the version bumped,
# repacked with dpkg-deb in a few seconds instead of a second `make deb`. It exercises the
# upgrade path of dpkg (maintainer scripts, conffiles, database, timers) with identical files.
repack_upgrade_deb() {
    local deb=$1 cur=$2 next dir
    next="$cur.1"
    dir=$STAGE_WORK/repack
    rm -rf "$dir"
    dpkg-deb -R "$deb" "$dir" || return 1
    sed -i "s/^Version: .*/Version: $next/" "$dir/DEBIAN/control"
    mkdir -p "$STAGE_WORK/debs"
    dpkg-deb --root-owner-group -Zgzip -z1 -b "$dir" "$STAGE_WORK/debs/hfdl_${next}_repacked.deb" >/dev/null || return 1
    rm -rf "$dir"
    echo "$STAGE_WORK/debs/hfdl_${next}_repacked.deb"
}

start_hub() {
    rm -rf "$STAGE_WORK/hub"
    (cd "$REPO" && exec uv run --quiet python packaging/stage/hubserver.py \
        "$STAGE_WORK/hub" "$HUB_REPO" "$HUB_TOKEN") >"$STAGE_WORK/hub.log" 2>&1 &
    HUB_PID=$!
}

hub_url() {
    local _
    for _ in $(seq 1 300); do
        [ -s "$STAGE_WORK/hub/url" ] && { cat "$STAGE_WORK/hub/url"; return 0; }
        kill -0 "$HUB_PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# Packages installed (or with config files left) in the root, one a line.
installed_packages() {
    in_root dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 !~ /^[up]n/ {print $2}' | sort
}

hfdl_sys() { in_root hfdl --system "$@"; }

# Step 3: verify + offline security score of every hfdl unit installed in /etc/systemd/system
# and /usr/lib/systemd/system (the package's units and those `hfdl start` rendered).
step_units() {
    local units u score out
    units=$(in_root sh -c 'ls -d /etc/systemd/system/hfdl* /usr/lib/systemd/system/hfdl* 2>/dev/null' | grep -E '\.(service|timer|socket|path)$' || true)
    if [ -z "$units" ]; then fail "3 no hfdl unit files installed"; return; fi
    info "3 hfdl units: $(echo $units)"
    # Unit names, not paths: systemd-analyze loads them from the unit search path, and a
    # template is checked through an instance (a bare template cannot be verified).
    local targets=()
    for u in $units; do
        u=$(basename "$u")
        case "$u" in *@.service) targets+=("${u%@.service}@$SCHEDULE.service") ;; *) targets+=("$u") ;; esac
    done
    if out=$(in_root systemd-analyze verify "${targets[@]}" 2>&1) && [ -z "$out" ]; then
        pass "3 systemd-analyze verify: clean (${targets[*]})"
    else
        fail "3 systemd-analyze verify ${targets[*]} reported:"; sed 's/^/    /' <<<"$out"
    fi
    for u in "${targets[@]}"; do
        case "$u" in *.service) ;; *) continue ;; esac
        out=$(in_root systemd-analyze security --offline=true --no-pager "$u" 2>&1 || true)
        score=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p' <<<"$out" | tail -1)
        if [ -z "$score" ]; then
            fail "3 security --offline=true $u: no score"; tail -5 <<<"$out" | sed 's/^/    /'; continue
        fi
        if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= $SECURITY_THRESHOLD else 1)" "$score"; then
            pass "3 security exposure of $(basename "$u"): $score (threshold $SECURITY_THRESHOLD)"
        elif [ "${STAGE_STRICT_SECURITY:-0}" = 1 ]; then
            fail "3 security exposure of $(basename "$u"): $score > $SECURITY_THRESHOLD (STAGE_STRICT_SECURITY=1)"
            grep -E '^✗' <<<"$out" | head -30 | sed 's/^/    /'
        else
            info "3 security exposure of $(basename "$u"): $score > $SECURITY_THRESHOLD (not failing: STAGE_STRICT_SECURITY unset); worst items:"
            grep -E '^✗' <<<"$out" | sort -t' ' -k1 | head -12 | sed 's/^/    /'
        fi
        # The live score, from the running manager (the unit as loaded, drop-ins included):
        # reported for the record; the offline score above is the one enforced.
        out=$(in_root systemd-analyze security --no-pager "$u" 2>&1 || true)
        score=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9.]+).*/\1/p' <<<"$out" | tail -1)
        info "3 live security exposure of $(basename "$u"): ${score:-no score}"
    done
}

# Counts of rows of every table of the state database, as "table=count ..." (venv's Python).
db_rows() {
    in_root /usr/lib/hfdl/venv/bin/python - <<'EOF'
import sqlite3, sys
try:
    con = sqlite3.connect("file:/var/lib/hfdl/hfdl.db?mode=ro", uri=True)
    tables = [r[0] for r in con.execute("select name from sqlite_master where type='table' order by name")]
    counts = []
    for t in tables:
        n = con.execute('select count(*) from "%s"' % t.replace('"', '""')).fetchone()[0]
        counts.append(f"{t}={n}")
    print(" ".join(counts))
except Exception as e:
    print(f"error: {e}")
EOF
}

real_steps() {
    local t0 out url ver user
    if [ -z "$DEB" ]; then DEB=$(newest_deb); fi
    if [ -z "$DEB" ] || [ ! -f "$DEB" ]; then
        fail "no hfdl .deb to test (dist/hfdl_*_amd64.deb missing; run 'make deb' or pass DEB)"; return
    fi
    ver=$(dpkg-deb -f "$DEB" Version)
    info "package under test: $DEB (version $ver)"
    start_hub

    # -- 1 ---------------------------------------------------------------------------------
    step_file_list_before
    in_root getent passwd | sort >"$STAGE_WORK/passwd.before"
    installed_packages >"$STAGE_WORK/packages.before"

    # -- 2 ---------------------------------------------------------------------------------
    t0=$(now)
    in_root apt-get update -q >"$STAGE_WORK/install.log" 2>&1 || { fail "2 apt-get update in the root failed"; tail "$STAGE_WORK/install.log"; return; }
    record_time "apt-get update" "$(elapsed "$t0")"
    t0=$(now)
    copy_in "$DEB" /tmp/hfdl.deb
    if in_root apt-get install -y -q --no-install-recommends /tmp/hfdl.deb >>"$STAGE_WORK/install.log" 2>&1; then
        record_time "install" "$(elapsed "$t0")"
        pass "2 apt-get install hfdl $ver (with its Depends) in $(elapsed "$t0") s"
    else
        fail "2 apt-get install failed:"; tail -30 "$STAGE_WORK/install.log" | sed 's/^/    /'; return
    fi
    if out=$(in_root hfdl --version 2>&1); then pass "2 hfdl --version: $out"; else fail "2 hfdl --version: $out"; fi
    if out=$(in_root hfdl config validate 2>&1); then
        pass "2 hfdl config validate (shipped /etc/hfdl/config.yaml): $(tail -1 <<<"$out")"
    else
        fail "2 hfdl config validate:"; sed 's/^/    /' <<<"$out"
    fi
    if in_root getent passwd hfdl >/dev/null; then pass "2 system user hfdl created: $(in_root getent passwd hfdl)"; else fail "2 no hfdl user after install"; fi
    local conffiles
    conffiles=$(in_root dpkg-query -W -f='${Conffiles}' hfdl | awk '{print $1}' | tr '\n' ' ')
    for f in /etc/hfdl/config.yaml /etc/hfdl/models.json /etc/default/hfdl; do
        grep -q -- "$f " <<<"$conffiles " && pass "2 conffile $f" || fail "2 $f is not a conffile (conffiles: $conffiles)"
    done

    # -- 4 (set up) ------------------------------------------------------------------------
    if ! url=$(hub_url); then fail "4 the test Hub did not start:"; tail -20 "$STAGE_WORK/hub.log"; return; fi
    info "4 test Hub at $url serving private $HUB_REPO"
    in_root sh -c "printf '\n# added by the .deb stage\nHF_ENDPOINT=%s\n' '$url' >>/etc/default/hfdl"
    in_root sh -c "umask 077; printf '%s\n' '$HUB_TOKEN' >/etc/hfdl/hf_token"
    out=$(in_root stat -c '%a %U:%G' /etc/hfdl/hf_token)
    [ "$out" = "600 root:root" ] && pass "4 token in /etc/hfdl/hf_token ($out): User=hfdl cannot read it itself" || fail "4 /etc/hfdl/hf_token is $out"
    if out=$(in_root env HF_ENDPOINT="$url" hfdl --system models add "$HUB_REPO" --description "stage test model" 2>&1); then
        pass "4 hfdl --system models add $HUB_REPO"
    else
        fail "4 hfdl --system models add: $out"
    fi
    if out=$(hfdl_sys schedule create --name "$SCHEDULE" --type daily --time 03:00 2>&1) &&
       out2=$(hfdl_sys start 2>&1); then
        pass "4 hfdl --system schedule create + start"
    else
        fail "4 schedule create/start: $out ${out2:-}"
    fi
    if in_root systemctl is-active --quiet "hfdl-$SCHEDULE.timer"; then
        pass "4 hfdl-$SCHEDULE.timer active: $(in_root systemctl show -P NextElapseUSecRealtime "hfdl-$SCHEDULE.timer")"
    else
        fail "4 hfdl-$SCHEDULE.timer not active"
    fi
    out=$(in_root systemctl show -P Triggers "hfdl-$SCHEDULE.timer")
    [ "$out" = "hfdl-run@$SCHEDULE.service" ] && pass "4 the timer starts hfdl-run@$SCHEDULE.service (the unit fired below)" ||
        fail "4 hfdl-$SCHEDULE.timer triggers '$out', not hfdl-run@$SCHEDULE.service"
    if in_root grep -rqF "$HUB_TOKEN" /etc/systemd/system /run/systemd 2>/dev/null; then
        fail "4 the token appears in a unit file"
    fi
    if ! in_root systemctl cat "hfdl-run@$SCHEDULE.service" 2>/dev/null | grep -q '^EnvironmentFile=.*/etc/default/hfdl'; then
        fail "4 hfdl-run@.service has no EnvironmentFile=/etc/default/hfdl: HF_ENDPOINT there is ignored; falling back to 'hfdl config set endpoint' to go on"
        in_root hfdl config set endpoint "$url" >/dev/null 2>&1 || true
    fi

    # -- 3 ---------------------------------------------------------------------------------
    step_units

    # -- 4 (fire) --------------------------------------------------------------------------
    t0=$(now)
    in_root timeout 600 systemctl start "hfdl-run@$SCHEDULE.service" >"$STAGE_WORK/run.log" 2>&1
    record_time "scheduled run (systemctl start)" "$(elapsed "$t0")"
    out=$(in_root systemctl show -p Result -p ExecMainStatus -p User "hfdl-run@$SCHEDULE.service" | tr '\n' ' ')
    if grep -q 'Result=success' <<<"$out" && grep -q 'ExecMainStatus=0' <<<"$out"; then
        pass "4 hfdl-run@$SCHEDULE.service succeeded in $(elapsed "$t0") s ($out)"
    else
        fail "4 hfdl-run@$SCHEDULE.service: $out"
        in_root journalctl -q --no-pager -u "hfdl-run@$SCHEDULE.service" | tail -30 | sed 's/^/    /'
    fi
    user=$(in_root systemctl show -P User "hfdl-run@$SCHEDULE.service")
    [ "$user" = hfdl ] && pass "4 the service runs as User=hfdl" || fail "4 the service's User= is '${user:-<root>}', not hfdl"
    in_root find "$CACHE_DIR" -printf '%u:%g %m %y %p\n' >"$STAGE_WORK/cache.list" 2>/dev/null || true
    local nfiles
    nfiles=$(grep -c "models--${HUB_REPO//\//--}/blobs/" "$STAGE_WORK/cache.list" || true)
    if [ "$nfiles" -ge 3 ]; then
        pass "4 downloaded into $CACHE_DIR: $nfiles blobs of $HUB_REPO"
    else
        fail "4 expected 3 blobs of $HUB_REPO in $CACHE_DIR, found $nfiles"; sed 's/^/    /' "$STAGE_WORK/cache.list" | tail -20
    fi
    local owners
    owners=$(grep "models--" "$STAGE_WORK/cache.list" | awk '{print $1}' | sort -u | tr '\n' ' ')
    [ "$owners" = "hfdl:hfdl " ] && pass "4 cache files owned by hfdl:hfdl" || fail "4 cache file owners: ${owners:-none}"
    # The group that may read the models: service.cache_group of /etc/hfdl/config.yaml.
    local cache_group groups
    cache_group=$(in_root /usr/lib/hfdl/venv/bin/python -c 'import yaml; print((yaml.safe_load(open("/etc/hfdl/config.yaml")).get("service") or {}).get("cache_group") or "")' 2>/dev/null)
    groups=$(grep "models--" "$STAGE_WORK/cache.list" | awk '{split($1, a, ":"); print a[2]}' | sort -u | tr '\n' ' ')
    if [ -z "$cache_group" ]; then
        fail "4 no service.cache_group in /etc/hfdl/config.yaml (the group feature is not in this package)"
    elif [ "$groups" = "$cache_group " ]; then
        pass "4 the model's files belong to service.cache_group ($cache_group)"
    else
        fail "4 the model's files belong to the groups '$groups', not service.cache_group '$cache_group'"
    fi
    # Group-readable, not readable by others (the group feature): every regular file of the
    # model (blobs, refs) must be g+r and o-r.
    local bad
    bad=$(grep "models--" "$STAGE_WORK/cache.list" | awk '$3=="f" && ($2 ~ /[4-7]$/ || $2 !~ /[4-7][0-7]$/) {print $2, $4}')
    if [ -z "$bad" ] && grep -q "models--.*/blobs/" "$STAGE_WORK/cache.list"; then
        pass "4 cached files readable by the group, not by others (modes $(grep "models--" "$STAGE_WORK/cache.list" | awk '$3=="f"{print $2}' | sort -u | tr '\n' ' '))"
    else
        fail "4 cached files not (group-readable and not world-readable): $(head -5 <<<"$bad" | tr '\n' ';')"
    fi
    # The token reached the Hub, i.e. came in through the credential (the unit's environment
    # has no HF_TOKEN; /etc/hfdl/hf_token is 0600 root and unreadable to User=hfdl).
    # hubserver.py rewrites requests.json every 0.5 s: wait for the run's requests to show.
    local ok=1
    for _ in $(seq 1 20); do
        sleep 0.5
        python3 - "$STAGE_WORK/hub/requests.json" "$HUB_TOKEN" "$HUB_REPO" >"$STAGE_WORK/auth.check" <<'EOF'
import json, sys
records = json.load(open(sys.argv[1]))
token, repo = sys.argv[2], sys.argv[3]
hub = [r for r in records if r["origin"] == "hub" and repo in r["path"]]
with_token = [r for r in hub if r["authorization"] == f"Bearer {token}"]
others = [r for r in hub if r["authorization"] != f"Bearer {token}"]
print(f"{len(hub)} Hub requests for {repo}: {len(with_token)} with 'Bearer <token>', {len(others)} without")
for r in others[:5]:
    print(f"  without token: {r['method']} {r['path']} -> {r['status']} auth={r['authorization']!r}")
sys.exit(0 if hub and with_token and not others else 1 if hub else 2)
EOF
        ok=$?
        [ "$ok" = 2 ] || break
    done
    if [ "$ok" = 0 ]; then pass "4 token via credential: $(head -1 "$STAGE_WORK/auth.check")"; else fail "4 token check: $(cat "$STAGE_WORK/auth.check")"; fi
    if in_root systemctl cat "hfdl-run@$SCHEDULE.service" | grep -q '^LoadCredential=hf_token:/etc/hfdl/hf_token'; then
        pass "4 unit loads the token with LoadCredential=hf_token:/etc/hfdl/hf_token"
    else
        fail "4 no LoadCredential=hf_token:/etc/hfdl/hf_token in the unit"
    fi
    hfdl_sys status >"$STAGE_WORK/status.txt" 2>&1
    hfdl_sys status --json >"$STAGE_WORK/status.json" 2>&1
    # Any "last_result" in the JSON (per timer, per schedule) that says the run completed.
    if out=$(python3 - "$STAGE_WORK/status.json" <<'EOF2'
import json, sys
data = json.load(open(sys.argv[1]))
found = []
def walk(node, path):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "last_result":
                found.append(f"{path}.last_result={value}")
            walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            walk(value, f"{path}[{i}]")
walk(data, "")
print(" ".join(found))
sys.exit(0 if any(f.endswith(("=completed", "=success")) for f in found) else 1)
EOF2
    ); then
        pass "4 hfdl --system status shows the run: $out"
    else
        fail "4 hfdl --system status --json shows no completed run ($out):"; sed 's/^/    /' "$STAGE_WORK/status.txt" | head -20
    fi
    out=$(hfdl_sys logs -n 50 2>&1)
    echo "$out" >"$STAGE_WORK/logs.txt"
    if grep -q "$HUB_REPO" <<<"$out"; then
        pass "4 hfdl --system logs shows the run ($(wc -l <<<"$out") lines)"
    else
        fail "4 hfdl --system logs does not mention $HUB_REPO:"; sed 's/^/    /' <<<"$out" | head -20
    fi

    # -- 5 ---------------------------------------------------------------------------------
    if [ -z "$UPGRADE_DEB" ]; then
        t0=$(now)
        if [ "${STAGE_UPGRADE:-make}" = repack ]; then
            UPGRADE_DEB=$(repack_upgrade_deb "$DEB" "$ver" 2>"$STAGE_WORK/upgrade-build.err") || UPGRADE_DEB=""
            record_time "repack (upgrade build)" "$(elapsed "$t0")"
        elif UPGRADE_DEB=$(build_upgrade_deb "$ver" 2>"$STAGE_WORK/upgrade-build.err"); then
            record_time "make deb (upgrade build)" "$(elapsed "$t0")"
        else
            UPGRADE_DEB=""
        fi
    fi
    if [ -z "$UPGRADE_DEB" ]; then
        fail "5 upgrade: no higher-version package ($(cat "$STAGE_WORK/upgrade-build.err" 2>/dev/null)); pass it as the second argument"
    else
        local ver2 rows_before rows_after
        ver2=$(dpkg-deb -f "$UPGRADE_DEB" Version)
        in_root sh -c 'printf "\n# stage-upgrade-marker: edited by the admin\n" >>/etc/hfdl/config.yaml'
        rows_before=$(db_rows)
        t0=$(now)
        copy_in "$UPGRADE_DEB" /tmp/hfdl-upgrade.deb
        if in_root apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef \
               -o Dpkg::Options::=--force-confold /tmp/hfdl-upgrade.deb >>"$STAGE_WORK/install.log" 2>&1; then
            record_time "upgrade" "$(elapsed "$t0")"
            local now_ver
            now_ver=$(in_root dpkg-query -W -f='${Version}' hfdl)
            if [ "$now_ver" = "$ver2" ]; then
                pass "5 upgrade $ver -> $now_ver in $(elapsed "$t0") s ($(in_root hfdl --version 2>&1))"
            else
                fail "5 upgrade: installed version is $now_ver, not $ver2"
            fi
        else
            fail "5 upgrade failed:"; tail -20 "$STAGE_WORK/install.log" | sed 's/^/    /'
        fi
        in_root grep -q stage-upgrade-marker /etc/hfdl/config.yaml && pass "5 the edit of /etc/hfdl/config.yaml survived" || fail "5 the edit of /etc/hfdl/config.yaml was lost"
        in_root grep -q "HF_ENDPOINT=$url" /etc/default/hfdl && pass "5 the edit of /etc/default/hfdl survived" || fail "5 the edit of /etc/default/hfdl was lost"
        rows_after=$(db_rows)
        if [ "$rows_before" = "$rows_after" ] && ! grep -q error <<<"$rows_after"; then
            pass "5 database rows kept: $rows_after"
        else
            fail "5 database rows before: $rows_before / after: $rows_after"
        fi
        if in_root systemctl is-active --quiet "hfdl-$SCHEDULE.timer" && in_root systemctl is-enabled --quiet "hfdl-$SCHEDULE.timer"; then
            pass "5 hfdl-$SCHEDULE.timer still enabled and active, next $(in_root systemctl show -P NextElapseUSecRealtime "hfdl-$SCHEDULE.timer")"
        else
            fail "5 hfdl-$SCHEDULE.timer not enabled+active after the upgrade"
        fi
    fi

    # -- 6 ---------------------------------------------------------------------------------
    t0=$(now)
    if in_root apt-get purge -y -q hfdl >"$STAGE_WORK/purge.log" 2>&1; then
        record_time "purge" "$(elapsed "$t0")"
        pass "6 apt-get purge hfdl in $(elapsed "$t0") s"
    else
        fail "6 apt-get purge hfdl failed:"; tail -20 "$STAGE_WORK/purge.log" | sed 's/^/    /'
    fi
    # The packages hfdl's Depends brought in: `autoremove` keeps some (ca-certificates, which
    # apt Recommends), so purge exactly the packages the clean root did not have.
    local extra
    installed_packages >"$STAGE_WORK/packages.after"
    extra=$(comm -13 "$STAGE_WORK/packages.before" "$STAGE_WORK/packages.after" | sed 's/:amd64$//' | tr '\n' ' ')
    if [ -n "${extra// }" ]; then
        t0=$(now)
        info "6 purging the packages hfdl's Depends pulled in: $extra"
        in_root apt-get purge -y -q $extra >>"$STAGE_WORK/purge.log" 2>&1 || fail "6 purging the dependencies failed"
        record_time "purge of the dependencies" "$(elapsed "$t0")"
    fi
    # Left running after purge?
    out=$(in_root systemctl list-units --all --no-legend 'hfdl*' 2>&1 | grep -v -e 'not-found.*inactive' -e 'hfdl-stage\.target' || true)
    [ -z "$out" ] && pass "6 no hfdl unit loaded after purge" || info "6 hfdl units still known to PID 1 after purge: $out"
    in_root getent passwd | sort >"$STAGE_WORK/passwd.after"
    out=$(comm -13 "$STAGE_WORK/passwd.before" "$STAGE_WORK/passwd.after" | cut -d: -f1 | tr '\n' ' ')
    [ -n "$out" ] && info "6 users left after purge (Debian policy keeps system users): $out"
    step_file_list_compare "${CACHE_DIR}(/|$)"
}
