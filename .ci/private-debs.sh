#!/usr/bin/env bash
# Unpacks exact versions of Debian packages into a private prefix, through an apt configuration of
# its own: the system's apt sources, lists, caches and dpkg database are never read for packages,
# never written, and nothing is installed system-wide. Used for software the system must not
# replace, e.g. a second QEMU beside bookworm's 7.2 (.ci/install-qemu-10.0.sh).
#
#   .ci/private-debs.sh PREFIX 'deb URI SUITE COMPONENT...' PACKAGE=VERSION...
#
# The suite line is one sources.list line; it is signed by the Debian archive keyring
# (/usr/share/keyrings/debian-archive-keyring.gpg) unless it names its own [signed-by=...].
# `apt-get update` runs on that suite only, `apt-get download` fetches exactly the pinned versions
# (apt checks them against the signed Release file), each .deb's own Package and Version fields are
# checked against its pin, and `dpkg-deb -x` unpacks them into a staging folder beside PREFIX,
# which replaces PREFIX only once every package is in (a failure leaves PREFIX as it was).
# PREFIX/.installed lists the pins, one per line, sorted; a PREFIX whose .installed already lists
# exactly these pins is left alone. Packages' maintainer scripts do not run.
set -euo pipefail

usage() {
  echo "usage: $0 PREFIX 'deb URI SUITE COMPONENT...' PACKAGE=VERSION..." >&2
  exit 2
}
[ $# -ge 3 ] || usage
prefix=$1
suite_line=$2
shift 2
case $prefix in
/*) ;;
*) prefix="$(pwd)/$prefix" ;;
esac
prefix=${prefix%/}
[ -n "$prefix" ] || { echo "$0: PREFIX must not be /" >&2; exit 2; }

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
case $suite_line in
deb\ *) ;;
*) echo "$0: the suite line must be a 'deb URI SUITE COMPONENT...' line, got: $suite_line" >&2; exit 2 ;;
esac
if [[ $suite_line != *"["* ]]; then
  [ -r "$keyring" ] || { echo "$0: $keyring is missing (apt-get install debian-archive-keyring)" >&2; exit 2; }
  suite_line="deb [signed-by=$keyring] ${suite_line#deb }"
fi

pins=()
for pin in "$@"; do
  if ! [[ $pin =~ ^[a-z0-9][a-z0-9.+-]*=[0-9A-Za-z.+~:-]+$ ]]; then
    echo "$0: '$pin' is not PACKAGE=VERSION" >&2
    exit 2
  fi
  pins+=("$pin")
done
wanted=$(printf '%s\n' "${pins[@]}" | LC_ALL=C sort -u)

if [ -f "$prefix/.installed" ] && [ "$(cat "$prefix/.installed")" = "$wanted" ]; then
  echo "$prefix already holds: $(tr '\n' ' ' <<<"$wanted")"
  exit 0
fi

mkdir -p "$(dirname "$prefix")"
stage=$(mktemp -d "$prefix.staging.XXXXXX")
apt_dir=$stage.apt
trap 'rm -rf "$stage" "$apt_dir"' EXIT
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/preferences.d" "$apt_dir/lists/partial" \
  "$apt_dir/cache/archives/partial" "$apt_dir/debs"
echo "$suite_line" >"$apt_dir/sources.list.d/private.list"
: >"$apt_dir/status"

apt_opts=(
  -o "Dir::Etc::sourcelist=/dev/null"
  -o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
  -o "Dir::Etc::preferences=/dev/null"
  -o "Dir::Etc::preferencesparts=$apt_dir/preferences.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::State::status=$apt_dir/status"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::Cache::archives=$apt_dir/cache/archives"
  -o "Acquire::Languages=none"
  -o "APT::Get::List-Cleanup=0"
)
# apt drops to the _apt user for downloads; the private folders belong to whoever runs this.
[ "$(id -u)" != 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")

echo "private apt: $suite_line"
apt-get -q "${apt_opts[@]}" update
(cd "$apt_dir/debs" && apt-get -q "${apt_opts[@]}" download "${pins[@]}")

for pin in "${pins[@]}"; do
  name=${pin%%=*}
  version=${pin#*=}
  debs=("$apt_dir"/debs/"${name}"_*.deb)
  deb=""
  for d in "${debs[@]}"; do
    [ -f "$d" ] || continue
    if [ "$(dpkg-deb -f "$d" Package)" = "$name" ] && [ "$(dpkg-deb -f "$d" Version)" = "$version" ]; then deb=$d; fi
  done
  if [ -z "$deb" ]; then
    echo "$0: apt-get download gave no $name at version $version" >&2
    exit 1
  fi
  echo "unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$stage"
done
echo "$wanted" >"$stage/.installed"
chmod 755 "$stage"

rm -rf "$prefix.old"
[ ! -e "$prefix" ] || mv "$prefix" "$prefix.old"
mv "$stage" "$prefix"
rm -rf "$prefix.old"
echo "$prefix now holds: $(tr '\n' ' ' <<<"$wanted")"
