#!/usr/bin/env bash
# Build dist/photogate-<version>-<arch>.pkg around the PyInstaller app bundle (run on macOS):
#   pyinstaller --noconfirm installer/pyinstaller/photogate.spec && installer/macos/build-pkg.sh
# One package per architecture, built on that architecture (macos-13: x86_64, macos-14: arm64);
# the Distribution's hostArchitectures refuses the wrong Mac instead of installing a program
# that cannot start there. (bash 3.2 compatible: that is what macOS ships.)
# Payload: /Applications/Photogate.app, /Library/LaunchAgents/com.photogate.agent.plist and
# /Library/Application Support/Photogate/config.toml.default (copied to config.toml once).
# Signing: PHOTOGATE_CODESIGN_IDENTITY="Developer ID Application: ..." was used by PyInstaller
# for the app; SIGN_IDENTITY="Developer ID Installer: ..." signs the pkg (MDMs require a
# signed pkg). Without them the app is signed ad hoc and the pkg is unsigned (CI, testing).
# Silent install: sudo installer -pkg photogate-<version>-<arch>.pkg -target /
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/agent/__init__.py")
[ -n "$version" ] || { echo "build-pkg.sh: no __version__ in agent/__init__.py" >&2; exit 2; }
app=$repo/dist/Photogate.app
[ -x "$app/Contents/MacOS/photogate" ] || { echo "build-pkg.sh: build $app first (pyinstaller)" >&2; exit 2; }
arch=$(uname -m)
case "$arch" in
    x86_64|arm64) ;;
    *) echo "build-pkg.sh: unknown architecture $arch" >&2; exit 2 ;;
esac
file "$app/Contents/MacOS/photogate" | grep -q "$arch" \
    || { echo "build-pkg.sh: the app is not built for $arch" >&2; exit 2; }

# The bundle id and a valid signature are what privacy profiles (PPPC) and Gatekeeper check.
bundle_id=$(/usr/libexec/PlistBuddy -c "Print :CFBundleIdentifier" "$app/Contents/Info.plist")
[ "$bundle_id" = com.photogate.agent ] || { echo "build-pkg.sh: bundle id is $bundle_id" >&2; exit 2; }
codesign --verify --deep --strict "$app"
echo "designated requirement (for installer/macos/photogate-pppc.mobileconfig):"
codesign --display --requirements - "$app" 2>&1 | sed -n 's/^designated => /  /p'

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/Applications" "$root/Library/LaunchAgents" "$root/Library/Application Support/Photogate"
ditto "$app" "$root/Applications/Photogate.app"   # ditto keeps the signature's extended data
cp "$repo/config.toml" "$root/Library/Application Support/Photogate/config.toml.default"
cp "$here/com.photogate.agent.plist" "$root/Library/LaunchAgents/"
# Protected mode (PHOTOGATE_PROTECTED=1): the root LaunchDaemon too; postinstall migrates the
# users' vaults into the machine vault, marks the machine and starts it.
if [ "${PHOTOGATE_PROTECTED:-0}" = 1 ]; then
    mkdir -p "$root/Library/LaunchDaemons"
    cp "$here/com.photogate.service.plist" "$root/Library/LaunchDaemons/"
fi
chmod 0755 "$here/scripts/preinstall" "$here/scripts/postinstall"

pkgbuild --root "$root" --identifier com.photogate.agent --version "$version" \
    --scripts "$here/scripts" --install-location / "$work/photogate-component.pkg"
cat > "$work/distribution.xml" <<XML
<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>Photogate</title>
    <options customize="never" require-scripts="false" hostArchitectures="$arch"/>
    <volume-check>
        <allowed-os-versions><os-version min="12.0"/></allowed-os-versions>
    </volume-check>
    <choices-outline><line choice="default"><line choice="com.photogate.agent"/></line></choices-outline>
    <choice id="default"/>
    <choice id="com.photogate.agent" visible="false">
        <pkg-ref id="com.photogate.agent"/>
    </choice>
    <pkg-ref id="com.photogate.agent" version="$version" onConclusion="none">photogate-component.pkg</pkg-ref>
</installer-gui-script>
XML
sign_args=()
if [ -n "${SIGN_IDENTITY:-}" ]; then sign_args=(--sign "$SIGN_IDENTITY"); fi
out=$repo/dist/photogate-$version-$arch.pkg
productbuild --distribution "$work/distribution.xml" --package-path "$work" \
    ${sign_args[@]+"${sign_args[@]}"} "$out"
echo "built $out"
