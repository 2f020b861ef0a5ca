#!/usr/bin/env bash
# Builds the Debian package chitieu_VERSION_ARCH.deb with CPack in BUILDDIR
# (default build-deb/), configured for prefix /usr (settings in /etc/chitieu,
# units in /lib/systemd/system), and checks it with lintian when present.
#   scripts/package.sh [BUILDDIR]
# Prints the path of the .deb on the last line of stdout.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:-$src/build-deb}
cmake -S "$src" -B "$bdir" -DCMAKE_INSTALL_PREFIX=/usr -DCT_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bdir" -j"$(nproc)" >/dev/null
(cd "$bdir" && cpack -G DEB >/dev/null)
deb=$(ls -t "$bdir"/chitieu_*.deb | head -1)
if command -v lintian >/dev/null; then
  # errors fail the build; warnings are shown
  lintian --fail-on error --suppress-tags unknown-field "$deb" >&2
fi
echo "$deb"
