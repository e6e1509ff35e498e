#!/usr/bin/env bash
# Install the Debian packages the Linux tray and the GUI tests need.
#
# The tray itself (pystray's gtk backend through PyGObject, notifications over D-Bus):
#   gir1.2-gtk-3.0          GTK 3's introspection data (GtkStatusIcon, menus)
#   libgirepository1.0-dev, libcairo2-dev, pkg-config, gcc
#                           to build PyGObject (and pycairo) into the virtual environment
#   python3-dev             Python's headers for that build (when the venv uses Debian's python3)
# The GUI and journey tests (tests/test_tray_gui.py, test_review_gui.py, test_journey.py):
#   xvfb                    the virtual X server the tests start on a free display
#   trayer                  a real XEmbed system-tray host for the icon to dock into
#                           (stalonetray left Debian with bookworm; used instead when installed)
#   dbus-daemon, dbus-bin   a private session bus (dbus-daemon --session) and dbus-monitor,
#                           which reads the notifications back as the daemon receives them
#   dunst                   a real freedesktop notification daemon (clicks invoke the action)
#   xdotool                 find windows and send keys/clicks the way a person would
#   x11-utils               xwininfo, to assert the tray icon window exists
#
# Screenshots are taken with Pillow's ImageGrab (built with XCB), so no ImageMagick is needed.
# Idempotent: installs only what is missing.
set -euo pipefail

needed=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in gir1.2-gtk-3.0 libgirepository1.0-dev libcairo2-dev pkg-config gcc \
           xvfb dbus-daemon dbus-bin dunst xdotool x11-utils; do
    have_pkg "$pkg" || needed+=("$pkg")
done
if ! command -v stalonetray >/dev/null 2>&1 && ! have_pkg trayer; then
    needed+=(trayer)
fi
python=${PYTHON:-python3}
if ! "$python" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
    needed+=(python3-dev)
fi

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
