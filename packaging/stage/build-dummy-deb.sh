#!/bin/bash
# Build a tiny stand-in package, hfdl-stage-dummy_<VERSION>_all.deb, that exercises what the
# stage harness must handle for the real hfdl package: a conffile, a sysusers.d system user,
# a oneshot unit running as that user with a LoadCredential= token, maintainer scripts that
# talk to the running PID 1. Used by `run.sh --self-test` (and until dist/hfdl_*.deb exists).
#
#   build-dummy-deb.sh OUTDIR [VERSION]
set -euo pipefail
out=$1
version=${2:-0.1}
name=hfdl-stage-dummy
build=$(mktemp -d "${TMPDIR:-/var/tmp}/$name.XXXXXX")
trap 'rm -rf "$build"' EXIT

install -d "$build/DEBIAN" "$build/usr/bin" "$build/etc/$name" \
    "$build/usr/lib/sysusers.d" "$build/usr/lib/systemd/system" "$build/usr/share/doc/$name"

cat >"$build/usr/bin/$name" <<EOF
#!/bin/sh
case "\$1" in
  --version) echo "$name $version" ;;
  *) echo "config: \$(cat /etc/$name/config.yaml)" ;;
esac
EOF
chmod 0755 "$build/usr/bin/$name"

printf 'greeting: hello\n' >"$build/etc/$name/config.yaml"
printf 'u %s - "hfdl stage dummy" /nonexistent\n' "${name//-/}" >"$build/usr/lib/sysusers.d/$name.conf"
cat >"$build/usr/lib/systemd/system/$name.service" <<EOF
[Unit]
Description=hfdl stage dummy: prove User= and LoadCredential= work in the stage

[Service]
Type=oneshot
User=${name//-/}
LoadCredential=token:/etc/$name/token
StateDirectory=$name
ProtectSystem=strict
PrivateTmp=yes
# PrivateUsers= needs a user namespace: fails (217/USER) if PID 1 runs in a chroot
PrivateUsers=yes
ExecStart=/bin/sh -c 'echo "user=\$(id -un) credential=\$(cat "\$CREDENTIALS_DIRECTORY/token")" | tee "\$STATE_DIRECTORY/seen"'
EOF
printf 'hfdl stage dummy package\n' >"$build/usr/share/doc/$name/README"

cat >"$build/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: all
Maintainer: hfdl stage <stage@invalid>
Depends: systemd
Section: admin
Priority: optional
Description: stand-in package for the hfdl .deb stage harness
 Exercises conffiles, sysusers.d, credentials and maintainer scripts.
EOF
echo "/etc/$name/config.yaml" >"$build/DEBIAN/conffiles"
cat >"$build/DEBIAN/postinst" <<EOF
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
  systemd-sysusers $name.conf
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
fi
EOF
cat >"$build/DEBIAN/postrm" <<EOF
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
if [ "\$1" = purge ]; then
  rm -f /etc/$name/token
  rmdir /etc/$name 2>/dev/null || true
  rm -rf /var/lib/$name /var/lib/private/$name
fi
EOF
chmod 0755 "$build/DEBIAN/postinst" "$build/DEBIAN/postrm"
mkdir -p "$out"
dpkg-deb --root-owner-group -Zgzip --build "$build" "$out/${name}_${version}_all.deb" >/dev/null
echo "$out/${name}_${version}_all.deb"
