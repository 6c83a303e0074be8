# shellcheck shell=bash
# `run.sh --self-test`: prove the harness with the stand-in package (build-dummy-deb.sh):
# root, PID-1 boot, nsenter control, journald, User= + LoadCredential=, conffile kept on
# upgrade, purge leaves the root as it was. Sourced by run.sh after the boot.

selftest_steps() {
    local name=hfdl-stage-dummy user=hfdlstagedummy deb1 deb2 t0 out
    deb1=$("$STAGE_DIR/build-dummy-deb.sh" "$STAGE_WORK/debs" 0.1)
    deb2=$("$STAGE_DIR/build-dummy-deb.sh" "$STAGE_WORK/debs" 0.2)

    step_file_list_before

    t0=$(now)
    copy_in "$deb1" /tmp/dummy1.deb
    if in_root apt-get install -y -q /tmp/dummy1.deb >"$STAGE_WORK/install.log" 2>&1; then
        pass "self-test install: $(in_root $name --version) in $(elapsed "$t0") s"
    else
        fail "self-test install failed"; tail -20 "$STAGE_WORK/install.log"; return
    fi
    record_time "install (dummy)" "$(elapsed "$t0")"

    in_root sh -c "umask 077; echo stage-secret-token >/etc/$name/token"
    in_root systemctl start $name.service || true
    out=$(in_root journalctl -q -o cat -u $name.service --no-pager 2>&1 || true)
    if grep -q "user=$user credential=stage-secret-token" <<<"$out"; then
        pass "self-test unit: ran as $user, got the token via LoadCredential= (seen in the journal)"
    else
        fail "self-test unit: expected 'user=$user credential=stage-secret-token' in the journal, got: $out"
        in_root systemctl status --no-pager $name.service || true
    fi

    in_root sed -i 's/hello/edited-by-admin/' /etc/$name/config.yaml
    t0=$(now)
    copy_in "$deb2" /tmp/dummy2.deb
    if in_root apt-get install -y -q -o Dpkg::Options::=--force-confold /tmp/dummy2.deb >>"$STAGE_WORK/install.log" 2>&1 &&
       in_root $name --version | grep -q 0.2; then
        record_time "upgrade (dummy)" "$(elapsed "$t0")"
        if in_root grep -q edited-by-admin /etc/$name/config.yaml; then
            pass "self-test upgrade to 0.2: the conffile edit survived"
        else
            fail "self-test upgrade: the conffile edit was lost"
        fi
    else
        fail "self-test upgrade failed"; tail -20 "$STAGE_WORK/install.log"
    fi

    t0=$(now)
    in_root apt-get purge -y -q $name >>"$STAGE_WORK/install.log" 2>&1 || fail "self-test purge failed"
    record_time "purge (dummy)" "$(elapsed "$t0")"
    step_file_list_compare ""
}
