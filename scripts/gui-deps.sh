#!/usr/bin/env bash
# Install the Debian packages the GUI tests need (tests/test_review_gui.py, test_tray_gui.py).
#
#   xvfb         the virtual X server the tests start on a free display
#   trayer       a small standalone system-tray manager, so pystray's xorg backend has
#                somewhere to dock (stalonetray left Debian with bookworm; it is used
#                instead when installed)
#   xdotool      find windows and send keys/clicks the way a person would
#   x11-utils    xwininfo, to assert the tray icon window exists
#
# Screenshots are taken with Pillow's ImageGrab (built with XCB), so no ImageMagick is needed.
# The venv's Python (pyenv build) already has tkinter; Debian's python3-tk is not needed.
# Idempotent: does nothing when every tool is already present.
set -euo pipefail

needed=()
command -v Xvfb >/dev/null 2>&1 || needed+=(xvfb)
if ! command -v stalonetray >/dev/null 2>&1 && ! command -v trayer >/dev/null 2>&1; then
    needed+=(trayer)
fi
command -v xdotool >/dev/null 2>&1 || needed+=(xdotool)
command -v xwininfo >/dev/null 2>&1 || needed+=(x11-utils)

if [ "${#needed[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
echo "gui-deps: installed ${needed[*]}"
