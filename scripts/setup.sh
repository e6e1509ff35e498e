#!/usr/bin/env bash
# Set up everything Photogate needs on a Debian/Ubuntu machine with only Python:
# system libraries (libmagic; with --gui also Xvfb and a tray for the GUI tests),
# a virtual environment in .venv, and the package with its dependencies.
# Safe to run again: it only installs what is missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
want_gui=0
want_dev=0
for arg in "$@"; do
  case "$arg" in
    --gui) want_gui=1 ;;
    --dev) want_dev=1 ;;
    *) echo "setup.sh: unknown option $arg (use --dev, --gui)" >&2; exit 2 ;;
  esac
done

# --- system packages ------------------------------------------------------------------
missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || missing+=("$1"); }
if command -v dpkg-query >/dev/null 2>&1; then
  need_pkg libmagic1
  # The test suite lints the installer scripts with shellcheck.
  [ "$want_dev" = 1 ] && need_pkg shellcheck
  # A real TLS syslog receiver for tests/test_syslog_tls.py (started by the test, own config).
  if [ "$want_dev" = 1 ]; then need_pkg rsyslog; need_pkg rsyslog-gnutls; fi
  # ImageMagick with its OpenEXR coder (the -extra library): a second, independent reader
  # that the EXR/XCF walkers' test files are real (tests/imagemagick.py).
  if [ "$want_dev" = 1 ]; then need_pkg imagemagick; need_pkg libmagickcore-6.q16-6-extra; fi
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=()
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
        echo "setup.sh: please install as root: apt-get install ${missing[*]}" >&2; exit 2
      fi
    fi
    echo "setup.sh: installing Debian packages: ${missing[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# The GUI tests' tools (Xvfb, a tray manager, xdotool) have their own script.
if [ "$want_gui" = 1 ]; then
  "$repo/scripts/gui-deps.sh"
fi

# --- Python environment ---------------------------------------------------------------
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup.sh: Photogate needs Python 3.11 or newer ($python is $("$python" --version 2>&1))" >&2; exit 2; }
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv || {
    echo "setup.sh: could not create a virtual environment; on Debian: apt-get install python3-venv" >&2; exit 2; }
fi
extras=""
wanted=()
[ "$want_dev" = 1 ] && wanted+=(dev)
# --gui: the Linux tray's PyGObject (built against the packages gui-deps.sh installed).
[ "$want_gui" = 1 ] && wanted+=(gui)
if [ "${#wanted[@]}" -gt 0 ]; then extras="[$(IFS=,; echo "${wanted[*]}")]"; fi
# Reinstall only when pyproject.toml changed since the last successful install.
stamp=".venv/.photogate-installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e ".$extras"
  touch "$stamp"
fi
