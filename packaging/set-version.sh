#!/bin/sh
# Usage: set-version.sh CHANGELOG VERSION
# Make VERSION the package version: when the changelog's newest entry has another version
# (`make deb VERSION=0.1.1`, a test build of an upgrade), add an entry for VERSION on top,
# so that dpkg-buildpackage, which takes the version from debian/changelog, builds it.
set -eu

changelog=$1
version=$2
current=$(dpkg-parsechangelog --file "$changelog" --show-field Version)
if [ "$current" = "$version" ]; then
	exit 0
fi
maintainer=$(dpkg-parsechangelog --file "$changelog" --show-field Maintainer)
# The date of the newest entry, not now: the same inputs give the same package.
date=$(dpkg-parsechangelog --file "$changelog" --show-field Date)
temporary="$changelog.new"
{
	printf 'hfdl (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built as version %s with make deb VERSION=%s.\n\n' "$version" "$version"
	printf ' -- %s  %s\n\n' "$maintainer" "$date"
	cat "$changelog"
} >"$temporary"
mv "$temporary" "$changelog"
