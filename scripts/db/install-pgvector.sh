#!/usr/bin/env bash
# Builds and installs pgvector for PostgreSQL $1 from Debian's source package of a newer release.
# For Debian 12, whose archive has no pgvector package. Needs root. The mirror is read from this
# machine's own apt sources; a private apt state directory keeps the machine's sources untouched.
set -euo pipefail
major="${1:?usage: install-pgvector.sh <postgres major version>}"

mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "install-pgvector: no Debian mirror found in /etc/apt/sources*" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "postgresql-server-dev-$major" build-essential dpkg-dev

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
private=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
         -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
cd "$work"
for suite in trixie sid; do
  # The source index of a newer suite is signed by a key bookworm's keyring may not hold; the
  # tarballs are still checked against the index's checksums.
  echo "deb-src [trusted=yes] $mirror $suite main" > sources.list
  if apt-get "${private[@]}" update -q && apt-get "${private[@]}" source --download-only pgvector; then
    break
  fi
done
dsc=$(ls pgvector_*.dsc 2>/dev/null | head -n 1)
[ -n "$dsc" ] || { echo "install-pgvector: could not download pgvector's source package" >&2; exit 1; }
dpkg-source --no-check -x "$dsc" src
make -C src -j2 PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config"
make -C src install PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config"
echo "install-pgvector: installed $(basename "$dsc" .dsc) for PostgreSQL $major"
