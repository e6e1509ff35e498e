#!/usr/bin/env bash
# Remove Photogate. Keeps each user's state (vault, history) and /etc/photogate unless --purge.
# Takes the same --user/--system/--prefix options as install.sh; the copy that install.sh leaves
# in the app folder (~/.local/share/Photogate/app or /opt/photogate) needs none.
set -euo pipefail
exec "$(cd "$(dirname "$0")" && pwd)/install.sh" --uninstall "$@"
