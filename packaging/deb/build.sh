#!/bin/sh
# Builds watchparty's .deb with nfpm (pinned, run through `go run` so go.mod
# stays lean). Run from the repository root:
#   packaging/deb/build.sh BINARY VERSION GOARCH OUTDIR
# VERSION may be a git describe string; a leading "v" is dropped and a
# version not starting with a digit becomes 0.0.0~gitVERSION.
set -eu
[ $# -eq 4 ] || { echo "usage: $0 BINARY VERSION GOARCH OUTDIR" >&2; exit 2; }
binary=$1 version=${2#v} goarch=$3 outdir=$4
case "$version" in
[0-9]*.[0-9]*) ;;
*) version="0.0.0~git$version" ;;
esac
version=$(printf '%s' "$version" | tr -c 'A-Za-z0-9.+~\n' '~')
nfpm=${NFPM:-go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
when=$(date -R ${SOURCE_DATE_EPOCH:+-d @$SOURCE_DATE_EPOCH})
gzip -9n <packaging/deb/watchparty.1 >"$tmp/watchparty.1.gz"
cat >"$tmp/changelog" <<CHANGES
watchparty ($version) stable; urgency=medium

  * Release $version; the project history lists the changes.

 -- watchparty maintainers <watchparty@example.org>  $when
CHANGES
gzip -9n "$tmp/changelog"
# nfpm expands the environment in version and arch but not in file paths.
sed -e "s|\${BINARY}|$binary|" -e "s|\${MANPAGE}|$tmp/watchparty.1.gz|" -e "s|\${CHANGELOG}|$tmp/changelog.gz|" \
	packaging/deb/nfpm.yaml >"$tmp/nfpm.yaml"
mkdir -p "$outdir"
VERSION=$version DEB_ARCH=$goarch $nfpm package --config "$tmp/nfpm.yaml" --packager deb --target "$outdir/"
