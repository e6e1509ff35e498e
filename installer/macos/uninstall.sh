#!/bin/sh
# Remove Photogate from a Mac (run as root: sudo sh uninstall.sh [--purge]).
# Keeps each user's state and vault (~/Library/Application Support/Photogate) and the machine
# policy; --purge also deletes the machine policy folder. Users' vaults are never deleted here.
set -eu
console_user=$(stat -f %Su /dev/console 2>/dev/null || echo root)
if [ "$console_user" != root ]; then
    launchctl bootout "gui/$(id -u "$console_user")/com.photogate.agent" 2>/dev/null || true
fi
rm -f /Library/LaunchAgents/com.photogate.agent.plist
rm -rf /Applications/Photogate.app /Applications/Photogate
pkgutil --forget com.photogate.agent >/dev/null 2>&1 || true
if [ "${1:-}" = --purge ]; then
    rm -rf "/Library/Application Support/Photogate"
fi
echo "Photogate removed"
