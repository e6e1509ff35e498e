#!/usr/bin/env bash
# Build dist/photogate-<version>.pkg around the PyInstaller onedir (run on macOS):
#   pyinstaller --noconfirm installer/pyinstaller/photogate.spec && installer/macos/build-pkg.sh
# Payload: /Applications/Photogate/ (the onedir) and /Library/LaunchAgents/com.photogate.agent.plist.
# (bash 3.2 compatible: that is what macOS ships.)
# Set SIGN_IDENTITY="Developer ID Installer: ..." to sign the pkg (MDMs require a signed pkg).
# Silent install: sudo installer -pkg photogate-<version>.pkg -target /
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/agent/__init__.py")
[ -n "$version" ] || { echo "build-pkg.sh: no __version__ in agent/__init__.py" >&2; exit 2; }
onedir=$repo/dist/photogate
[ -x "$onedir/photogate" ] || { echo "build-pkg.sh: build $onedir first (pyinstaller)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/Applications/Photogate" "$root/Library/LaunchAgents"
cp -R "$onedir/." "$root/Applications/Photogate/"
cp "$repo/config.toml" "$root/Applications/Photogate/config.toml.default"
cp "$here/com.photogate.agent.plist" "$root/Library/LaunchAgents/"
chmod 0755 "$here/scripts/preinstall" "$here/scripts/postinstall"

pkgbuild --root "$root" --identifier com.photogate.agent --version "$version" \
    --scripts "$here/scripts" --install-location / "$work/photogate-component.pkg"
sign_args=()
if [ -n "${SIGN_IDENTITY:-}" ]; then sign_args=(--sign "$SIGN_IDENTITY"); fi
productbuild --package "$work/photogate-component.pkg" --identifier com.photogate.agent \
    --version "$version" ${sign_args[@]+"${sign_args[@]}"} "$repo/dist/photogate-$version.pkg"
echo "built $repo/dist/photogate-$version.pkg"
