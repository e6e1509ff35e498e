#!/usr/bin/env bash
# Install (or, with --uninstall, remove) Photogate on Linux.
#
# Per-user (default for a normal user), all in the one per-user folder ~/.local/share/Photogate:
#   ~/.local/share/Photogate/app/venv  the agent in its own virtual environment (the rest of
#                                      ~/.local/share/Photogate is the agent's state and vault)
#   ~/.local/bin/photogate             the launcher (a symlink into the venv)
#   ~/.config/autostart/photogate.desktop        tray at login (XDG autostart)
#   ~/.config/systemd/user/photogate.service     headless mode (enabled only with --headless-service)
# Per-machine (default for root, or --system):
#   /opt/photogate/venv, /usr/local/bin/photogate, /etc/photogate/config.toml (only if absent),
#   /etc/xdg/autostart/photogate.desktop, /etc/systemd/user/photogate.service
#
# Protected mode (--protected, implies --system): also
#   /etc/systemd/system/photogate-service.service   `photogate service` as root, enabled at boot:
#       it watches every user's folders and owns /var/lib/photogate (vault, state, events, 0700);
#       the tray autostart and the commands become its clients over /run/photogate/photogate.sock
#   /etc/photogate/protected-mode                   marker: clients never fall back to a per-user vault
#   existing per-user vaults are migrated into the machine vault (`photogate service migrate`).
#
# The tray autostart and the headless service must never both run (two agents would race for
# the same files), so --headless-service installs the unit enabled and leaves out the tray entry.
#
# Uninstall keeps the user's state (vault, history, preferences) and /etc/photogate unless --purge.
# A step that fails removes what this run built (and puts a previous installation back).
# See docs/it-guide.md for the whole story.
set -euo pipefail

readonly APP=photogate
readonly STATE_DIR_NAME=Photogate # platformdirs.user_data_dir("Photogate"): the agent's state
readonly MIN_PYTHON="3.11"
readonly UNIT_NAME=photogate.service
readonly SERVICE_UNIT_NAME=photogate-service.service # protected mode's system unit
readonly PROTECTED_MARKER_NAME=protected-mode

script_dir=$(cd "$(dirname "$0")" && pwd)

usage() {
    cat <<'EOF'
usage: install.sh [--user | --system] [--prefix DIR] [--from PATH] [--python PY]
                  [--wheels DIR | --deps-from PY] [--headless-service]
       install.sh --uninstall [--user | --system] [--prefix DIR] [--purge]

  --user              install for the current user only (default unless run as root)
  --system            install for every user of this machine (default when run as root)
  --prefix DIR        put everything under DIR (a fake $HOME for --user, a fake / for --system);
                      used by tests and for staging a package
  --from PATH         Photogate source tree or wheel to install (default: this script's tree)
  --python PY         interpreter for the virtual environment (default: python3, >= 3.11)
  --wheels DIR        install dependencies from the wheels in DIR only (offline deployment)
  --deps-from PY      reuse the dependencies already installed for interpreter PY (offline; the
                      venv gets a .pth file pointing at PY's site-packages, and the agent itself
                      is installed with --no-deps). Must be the same Python major.minor.
  --headless-service  enable the systemd --user unit (no tray icon) instead of the tray autostart
  --protected         protected mode: the machine-wide service (root) that staff cannot stop,
                      with every existing per-user vault migrated into the machine vault
  --uninstall         remove Photogate (keeps the vault and user state, /etc/photogate)
  --purge             with --uninstall: also delete the user's state including the vault,
                      and (--system) /etc/photogate
EOF
}

die() {
    echo "install.sh: $*" >&2
    exit 2
}
say() { echo "photogate-install: $*"; }

mode=""
prefix=""
from=""
python_cmd="python3"
wheels=""
deps_from=""
headless=0
protected=0
action=install
purge=0

while [ $# -gt 0 ]; do
    case "$1" in
    --user) mode=user ;;
    --system) mode=system ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift ;;
    --from) from=${2:?--from needs a path}; shift ;;
    --python) python_cmd=${2:?--python needs an interpreter}; shift ;;
    --wheels) wheels=${2:?--wheels needs a folder}; shift ;;
    --deps-from) deps_from=${2:?--deps-from needs an interpreter}; shift ;;
    --headless-service) headless=1 ;;
    --protected) protected=1; mode=system ;;
    --uninstall) action=uninstall ;;
    --purge) purge=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

if [ -n "$prefix" ]; then
    mkdir -p "$prefix"
    prefix=$(cd "$prefix" && pwd)
fi

# An installed copy of this script (in the app folder) remembers how it was installed, so that
# `.../photogate/uninstall.sh` with no options removes the right layout.
if [ -z "$mode" ] && [ -f "$script_dir/install-info" ]; then
    mode=$(sed -n 's/^mode=\(user\|system\)$/\1/p' "$script_dir/install-info")
    [ -n "$prefix" ] || prefix=$(sed -n 's/^prefix=//p' "$script_dir/install-info")
fi
if [ -z "$mode" ]; then
    if [ "$(id -u)" -eq 0 ]; then mode=system; else mode=user; fi
fi

# --- layout ------------------------------------------------------------------------------
if [ "$mode" = system ]; then
    root=$prefix # "" means the real /
    app_dir=$root/opt/$APP
    bin_dir=$root/usr/local/bin
    etc_dir=$root/etc/$APP
    autostart_dir=$root/etc/xdg/autostart
    unit_dir=$root/etc/systemd/user # what `systemctl --global enable` uses
    system_unit_dir=$root/etc/systemd/system
    machine_state=$root/var/lib/$APP
    state_dir=""                    # per-user state is each user's own; never touched here
    legacy_app_dir=""
else
    if [ -n "$prefix" ]; then
        data_home=$prefix/.local/share
        config_home=$prefix/.config
        bin_dir=$prefix/.local/bin
    else
        data_home=${XDG_DATA_HOME:-$HOME/.local/share}
        config_home=${XDG_CONFIG_HOME:-$HOME/.config}
        bin_dir=${XDG_BIN_HOME:-$HOME/.local/bin}
    fi
    # One spelling: the program lives inside the per-user Photogate folder, not in a
    # "photogate" folder beside it that differs only in case (issue 12).
    app_dir=$data_home/$STATE_DIR_NAME/app
    legacy_app_dir=$data_home/$APP # where versions before 0.2 put the program
    etc_dir=""
    autostart_dir=$config_home/autostart
    unit_dir=$config_home/systemd/user
    state_dir=${PHOTOGATE_HOME:-$data_home/$STATE_DIR_NAME}
fi
venv=$app_dir/venv
launcher=$bin_dir/$APP
desktop_file=$autostart_dir/$APP.desktop
unit_file=$unit_dir/$UNIT_NAME
wants_link=$unit_dir/default.target.wants/$UNIT_NAME

# systemctl is only ever called for a real install, never for a --prefix staging install.
can_systemctl() { [ -z "$prefix" ] && command -v systemctl >/dev/null 2>&1; }

# The program folder of an older per-user install (~/.local/share/photogate), if it is ours.
remove_legacy_app_dir() {
    if [ -n "$legacy_app_dir" ] && [ -f "$legacy_app_dir/install-info" ] &&
        [ "$legacy_app_dir" != "$app_dir" ]; then
        if [ -L "$launcher" ] && [ "$(readlink "$launcher")" = "$legacy_app_dir/venv/bin/$APP" ]; then
            rm -f "$launcher"
        fi
        rm -rf "$legacy_app_dir"
        say "removed the program folder of an older install: $legacy_app_dir"
    fi
}

# --- uninstall ---------------------------------------------------------------------------
uninstall() {
    if [ "$mode" = system ] && [ -f "$system_unit_dir/$SERVICE_UNIT_NAME" ]; then
        if can_systemctl; then
            systemctl disable --now "$SERVICE_UNIT_NAME" >/dev/null 2>&1 || true
        fi
        rm -f "$system_unit_dir/$SERVICE_UNIT_NAME" \
            "$system_unit_dir/multi-user.target.wants/$SERVICE_UNIT_NAME" \
            "$etc_dir/$PROTECTED_MARKER_NAME"
        if can_systemctl; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
    fi
    if [ "$mode" = system ] && [ -d "$machine_state" ]; then
        if [ "$purge" = 1 ]; then
            rm -rf "$machine_state"
            say "purged the machine vault and state: $machine_state"
        else
            say "kept the machine vault and state: $machine_state (use --purge to delete)"
        fi
    fi
    if [ "$mode" = user ] && can_systemctl; then
        systemctl --user disable --now "$UNIT_NAME" >/dev/null 2>&1 || true
    fi
    # The launcher is removed only when it is ours (a link into our venv).
    if [ -L "$launcher" ] && [ "$(readlink "$launcher")" = "$venv/bin/$APP" ]; then
        rm -f "$launcher"
    fi
    rm -f "$desktop_file" "$wants_link" "$unit_file"
    case "$app_dir" in
    */opt/$APP | */$STATE_DIR_NAME/app) rm -rf "$app_dir" ;;
    *) die "refusing to delete unexpected folder $app_dir" ;;
    esac
    remove_legacy_app_dir
    if [ "$mode" = user ] && can_systemctl; then
        systemctl --user daemon-reload >/dev/null 2>&1 || true
    fi
    if [ "$purge" = 1 ]; then
        if [ -n "$state_dir" ] && [ -d "$state_dir" ]; then
            rm -rf "$state_dir"
            say "purged state and vault: $state_dir"
        fi
        if [ -n "$etc_dir" ] && [ -d "$etc_dir" ]; then
            rm -rf "$etc_dir"
            say "purged machine policy: $etc_dir"
        fi
    else
        if [ -n "$state_dir" ] && [ -d "$state_dir" ]; then
            say "kept state and vault: $state_dir (use --purge to delete)"
        fi
        if [ -n "$etc_dir" ] && [ -d "$etc_dir" ]; then
            say "kept machine policy: $etc_dir (use --purge to delete)"
        fi
        if [ "$mode" = system ]; then
            say "each user's own state (~/.local/share/$STATE_DIR_NAME) is left in place"
        fi
    fi
    say "removed Photogate ($mode)"
}

if [ "$action" = uninstall ]; then
    uninstall
    exit 0
fi

# --- protected mode ------------------------------------------------------------------------
install_protected() {
    mkdir -p "$system_unit_dir" "$machine_state"
    chmod 0700 "$machine_state"
    cat >"$system_unit_dir/$SERVICE_UNIT_NAME" <<EOF
[Unit]
Description=Photogate protected mode: checks every user's downloads and attachments
After=local-fs.target

[Service]
Type=simple
ExecStart="$launcher" service run
# Staff cannot stop a system unit (only root, or polkit's admin rule, can); it comes back
# by itself if it ever dies.
Restart=always
RestartSec=2
UMask=0077
StateDirectory=$APP
StateDirectoryMode=0700
# The socket folder outlives a stop, so clients say "not answering" instead of falling back.
RuntimeDirectory=$APP
RuntimeDirectoryMode=0755
RuntimeDirectoryPreserve=yes
Nice=10
IOSchedulingClass=idle

[Install]
WantedBy=multi-user.target
EOF
    chmod 0644 "$system_unit_dir/$SERVICE_UNIT_NAME"
    mkdir -p "$system_unit_dir/multi-user.target.wants"
    ln -sfn "$system_unit_dir/$SERVICE_UNIT_NAME" \
        "$system_unit_dir/multi-user.target.wants/$SERVICE_UNIT_NAME"
    printf 'installed by install.sh --protected\n' >"$etc_dir/$PROTECTED_MARKER_NAME"
    chmod 0644 "$etc_dir/$PROTECTED_MARKER_NAME"
    say "protected mode: $system_unit_dir/$SERVICE_UNIT_NAME (enabled), state $machine_state"
    if [ -z "$prefix" ]; then
        # Before the service starts: every per-user vault moves into the machine vault.
        "$launcher" service migrate || say "migration reported problems (see above)"
        if can_systemctl; then
            systemctl daemon-reload >/dev/null 2>&1 || true
            systemctl restart "$SERVICE_UNIT_NAME" >/dev/null 2>&1 ||
                say "could not start $SERVICE_UNIT_NAME now; it starts at the next boot"
        fi
    else
        say "staged: run '$launcher service migrate' before starting the service"
    fi
}

# --- install -----------------------------------------------------------------------------
[ -z "$wheels" ] || [ -z "$deps_from" ] || die "--wheels and --deps-from exclude each other"
[ -n "$from" ] || from=$(cd "$script_dir/../.." && pwd)
[ -e "$from" ] || die "nothing to install at $from"
if [ "$mode" = system ] && [ -z "$prefix" ] && [ "$(id -u)" -ne 0 ]; then
    die "--system needs root (or use --user)"
fi
command -v "$python_cmd" >/dev/null 2>&1 || die "no Python interpreter '$python_cmd'"
"$python_cmd" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$MIN_PYTHON'.split('.'))))" ||
    die "Photogate needs Python $MIN_PYTHON or newer ($python_cmd is $("$python_cmd" --version 2>&1))"

staging=$(mktemp -d)
building=0     # 1 from the first change on disk until the install is complete
previous=""    # the venv of the installation being replaced, kept until the new one works
created=()     # files and folders this run created (removed again if a step fails)
remember_new() {
    local path
    for path in "$@"; do
        if [ ! -e "$path" ] && [ ! -L "$path" ]; then created+=("$path"); fi
    done
}
# On any failure (die, or a command failing under set -e): remove the half-built venv and
# whatever this run created, and put the previous installation's venv back.
finish() {
    local status=$?
    if [ "$building" = 1 ] && [ "$status" -ne 0 ]; then
        say "install failed: removing what this run built"
        rm -rf "$venv"
        if [ -n "$previous" ] && [ -d "$previous" ]; then
            mv "$previous" "$venv"
            say "the previous installation is back in place"
        fi
        local index
        for ((index = ${#created[@]} - 1; index >= 0; index--)); do
            rm -rf "${created[$index]}"
        done
    fi
    rm -rf "$staging"
    exit "$status"
}
trap finish EXIT

# Building from a source tree writes build/ and *.egg-info into it; build from a copy instead.
package=$from
if [ -d "$from" ]; then
    [ -f "$from/pyproject.toml" ] || die "$from has no pyproject.toml"
    # Only what the build reads: the package and its metadata (not tests, not a live .venv).
    mkdir "$staging/src"
    for item in pyproject.toml setup.cfg setup.py README.md LICENSE MANIFEST.in agent; do
        if [ -e "$from/$item" ]; then cp -R "$from/$item" "$staging/src/"; fi
    done
    find "$staging/src" -name __pycache__ -type d -prune -exec rm -rf {} +
    package=$staging/src
fi

say "installing into $venv ($mode)"
building=1
if [ "$mode" = user ]; then remember_new "$data_home/$STATE_DIR_NAME"; fi
remember_new "$app_dir" "$bin_dir" "$launcher"
mkdir -p "$app_dir" "$bin_dir"
rm -rf "$venv.previous"
if [ -d "$venv" ]; then
    mv "$venv" "$venv.previous"
    previous=$venv.previous
fi
"$python_cmd" -m venv "$venv"
venv_python=$venv/bin/python
pip_args=(--quiet --disable-pip-version-check --no-input)
if [ -n "$deps_from" ]; then
    same=$("$deps_from" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    mine=$("$venv_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "$same" = "$mine" ] || die "--deps-from Python is $same, the venv is $mine: they must match"
    site=$("$venv_python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    "$deps_from" -c 'import sysconfig
for key in ("purelib", "platlib"):
    print(sysconfig.get_path(key))' | sort -u >"$site/photogate-deps.pth"
    pip_args+=(--no-deps --no-index --no-build-isolation)
elif [ -n "$wheels" ]; then
    pip_args+=(--no-index --find-links "$wheels")
fi
# Building a wheel without build isolation needs the `wheel` package (setuptools < 70.1); the
# venv of scripts/setup.sh (the README's) has none. A source tree is then installed by
# setuptools directly, which needs no wheel (the agent is pure Python).
can_build_wheel() {
    "$venv_python" - <<'PY'
import importlib.util
import sys

if importlib.util.find_spec("wheel") is None:
    try:
        import setuptools.command.bdist_wheel  # noqa: F401  (setuptools >= 70.1 has its own)
    except ImportError:
        sys.exit(1)
PY
}
if [ -n "$deps_from" ] && [ -d "$package" ] && ! can_build_wheel; then
    say "no 'wheel' package available: installing the source tree without building a wheel"
    (cd "$package" && "$venv_python" -c 'import setuptools; setuptools.setup()' --quiet \
        install --single-version-externally-managed --record "$staging/installed-files.txt") ||
        die "could not install $from into $venv"
else
    "$venv_python" -m pip install "${pip_args[@]}" "$package" ||
        die "could not install $from into $venv"
fi
[ -x "$venv/bin/$APP" ] || die "the package did not install a '$APP' command"
"$venv/bin/$APP" --version >/dev/null || die "the installed '$APP' command does not run"

ln -sfn "$venv/bin/$APP" "$launcher"

# The installed copy of the scripts, so IT can uninstall without the source tree.
remember_new "$app_dir/install.sh" "$app_dir/uninstall.sh" "$app_dir/install-info"
install -m 0755 "$script_dir/install.sh" "$app_dir/install.sh"
install -m 0755 "$script_dir/uninstall.sh" "$app_dir/uninstall.sh"
printf 'mode=%s\nprefix=%s\n' "$mode" "$prefix" >"$app_dir/install-info"
chmod 0644 "$app_dir/install-info"

if [ "$mode" = system ]; then
    chmod 0755 "$app_dir"
    # The machine policy folder: root-owned, world-readable, writable by root only.
    remember_new "$etc_dir"
    mkdir -p "$etc_dir"
    chmod 0755 "$etc_dir"
    if [ "$(id -u)" -eq 0 ]; then chown root:root "$etc_dir" "$app_dir"; fi
    if [ ! -e "$etc_dir/config.toml" ]; then
        install -m 0644 "$script_dir/../../config.toml" "$etc_dir/config.toml"
        say "machine policy: $etc_dir/config.toml (edit it, then: photogate config check)"
    else
        say "machine policy: $etc_dir/config.toml already present, left unchanged"
    fi
fi

# Desktop-entry Exec and systemd ExecStart both accept a double-quoted path.
remember_new "$unit_dir" "$unit_file"
mkdir -p "$unit_dir"
cat >"$unit_file" <<EOF
[Unit]
Description=Photogate agent, headless (no tray icon)

[Service]
Type=simple
ExecStart="$launcher" run --headless
Restart=on-failure
RestartSec=10
# Inspection must never slow the front desk down.
Nice=10
IOSchedulingClass=idle

[Install]
WantedBy=default.target
EOF
chmod 0644 "$unit_file"

if [ "$headless" = 1 ]; then
    # What `systemctl [--user|--global] enable` does, done by hand so it also works for --system
    # (no user manager to talk to) and for --prefix staging.
    remember_new "$(dirname "$wants_link")" "$wants_link"
    mkdir -p "$(dirname "$wants_link")"
    ln -sfn "$unit_file" "$wants_link"
    rm -f "$desktop_file"
    say "headless service enabled: $unit_file"
else
    rm -f "$wants_link"
    remember_new "$autostart_dir" "$desktop_file"
    mkdir -p "$autostart_dir"
    cat >"$desktop_file" <<EOF
[Desktop Entry]
Type=Application
Name=Photogate
Comment=Checks new pictures in Downloads and mail attachments
Exec="$launcher" run
Terminal=false
NoDisplay=true
X-GNOME-Autostart-enabled=true
X-GNOME-Autostart-Delay=5
EOF
    chmod 0644 "$desktop_file"
    say "tray autostart: $desktop_file"
fi

if [ "$mode" = user ] && can_systemctl; then
    systemctl --user daemon-reload >/dev/null 2>&1 || true
    if [ "$headless" = 1 ]; then
        systemctl --user restart "$UNIT_NAME" >/dev/null 2>&1 ||
            say "could not start $UNIT_NAME now (no user session?); it starts at next login"
    fi
fi

if [ "$protected" = 1 ]; then
    install_protected
fi

"$launcher" --version
rm -rf "$previous"
building=0
remove_legacy_app_dir
say "done. Uninstall with: $app_dir/uninstall.sh"
