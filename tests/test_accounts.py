"""Protected mode's accounts: Windows ProfileList, folders and items owned by SID; POSIX families.

The registry is the file-backed stand-in (`folders.FileRegistry`: real files, one
`KEY\\NAME=VALUE` line each), filled the way a Windows 11 PC's registry reads (values as
`reg query` prints them, REG_EXPAND_SZ unexpanded); the Windows-only calls behind it
(winreg, GetSecurityInfo, LookupAccountSid) are type-checked with `mypy --platform win32`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agent import platform
from agent.errors import VaultError
from agent.model import Finding, Severity
from agent.service import folders, windows_accounts
from agent.service.authority import Caller, owns
from agent.service.handlers import placement_for
from agent.service.machine import LocalUser
from agent.vault.record import QuarantineItem, owner_name
from agent.vault.restore import Placement

PROFILE_LIST = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
ALICE = "S-1-5-21-3623811015-3361044348-30300820-1001"
BOB = "S-1-5-21-3623811015-3361044348-30300820-1002"
ENTRA = "S-1-12-1-1234567890-1234567890-1234567890-1234567890"
SHELL_FOLDERS = r"Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders"
DOWNLOADS_GUID = "{374DE290-123F-4565-9164-39C4925E467B}"  # FOLDERID_Downloads (KnownFolders.h)
MACHINE_ENV = {"SystemDrive": "C:", "SystemRoot": r"C:\Windows"}


def registry(tmp_path: Path, *lines: str) -> folders.FileRegistry:
    path = tmp_path / "registry.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folders.FileRegistry(path)


def profile_list(tmp_path: Path, *extra: str) -> folders.FileRegistry:
    """ProfileList as on a PC with two local accounts, one Entra ID account and services."""
    return registry(
        tmp_path,
        rf"{PROFILE_LIST}\S-1-5-18\ProfileImagePath=%systemroot%\system32\config\systemprofile",
        rf"{PROFILE_LIST}\S-1-5-19\ProfileImagePath=%systemroot%\ServiceProfiles\LocalService",
        rf"{PROFILE_LIST}\S-1-5-20\ProfileImagePath=%systemroot%\ServiceProfiles\NetworkService",
        rf"{PROFILE_LIST}\{ALICE}\ProfileImagePath=C:\Users\alice",
        rf"{PROFILE_LIST}\{ALICE}\Flags=0",
        rf"{PROFILE_LIST}\{BOB}\ProfileImagePath=%SystemDrive%\Users\bob",
        rf"{PROFILE_LIST}\{BOB}.bak\ProfileImagePath=C:\Users\TEMP",
        rf"{PROFILE_LIST}\{ENTRA}\ProfileImagePath=C:\Users\DrChen",
        *extra,
    )


def test_profiles_are_the_account_sids_with_their_expanded_folders(tmp_path: Path) -> None:
    found = windows_accounts.profiles(profile_list(tmp_path), MACHINE_ENV)
    assert found == [
        windows_accounts.Profile(ENTRA, "DrChen", r"C:\Users\DrChen"),
        windows_accounts.Profile(ALICE, "alice", r"C:\Users\alice"),
        windows_accounts.Profile(BOB, "bob", r"C:\Users\bob"),
    ]


def test_profiles_take_the_account_name_from_the_lookup(tmp_path: Path) -> None:
    names = {ALICE: "Alice Front-Desk"}
    found = windows_accounts.profiles(profile_list(tmp_path), MACHINE_ENV, names.get)
    assert [(p.sid, p.name) for p in found] == [
        (ENTRA, "DrChen"),
        (ALICE, "Alice Front-Desk"),
        (BOB, "bob"),
    ]


@pytest.mark.parametrize(
    "image_path",
    [
        r"%UNDEFINED%\Users\eve",  # a variable nobody defines stays unexpanded
        r"Users\eve",  # relative
        r"\Users\eve",  # rooted but no drive
        "",
    ],
)
def test_a_profile_path_that_is_no_folder_is_skipped(tmp_path: Path, image_path: str) -> None:
    eve = "S-1-5-21-1-2-3-1003"
    source = registry(tmp_path, rf"{PROFILE_LIST}\{eve}\ProfileImagePath={image_path}")
    assert windows_accounts.profiles(source, MACHINE_ENV) == []


def test_an_unc_profile_counts(tmp_path: Path) -> None:
    eve = "S-1-5-21-1-2-3-1003"
    source = registry(tmp_path, rf"{PROFILE_LIST}\{eve}\ProfileImagePath=\\server\profiles\eve")
    (found,) = windows_accounts.profiles(source, MACHINE_ENV)
    assert found.home == r"\\server\profiles\eve"


def test_downloads_is_the_profile_folder_unless_the_user_hive_redirects_it(tmp_path: Path) -> None:
    alice = windows_accounts.Profile(ALICE, "alice", r"C:\Users\alice")
    plain = windows_accounts.landing_folders(alice, registry(tmp_path), MACHINE_ENV)
    assert plain == [
        r"C:\Users\alice\Downloads",
        r"C:\Users\alice\AppData\Local\Microsoft\Olk\Attachments",
    ]
    redirected = registry(
        tmp_path,
        rf"HKU\{ALICE}\{SHELL_FOLDERS}\{DOWNLOADS_GUID}=%USERPROFILE%\OneDrive\Downloads",
        rf"HKU\{BOB}\{SHELL_FOLDERS}\{DOWNLOADS_GUID}=D:\bob-downloads",
    )
    found = windows_accounts.landing_folders(alice, redirected, MACHINE_ENV)
    assert found[0] == r"C:\Users\alice\OneDrive\Downloads"


def test_the_service_profile_never_stands_in_for_the_users(tmp_path: Path) -> None:
    """A service's own %USERPROFILE% (the system profile) must not leak into a user's folder."""
    alice = windows_accounts.Profile(ALICE, "alice", r"C:\Users\alice")
    service_env = {**MACHINE_ENV, "UserProfile": r"C:\Windows\system32\config\systemprofile"}
    source = registry(
        tmp_path, rf"HKU\{ALICE}\{SHELL_FOLDERS}\{DOWNLOADS_GUID}=%USERPROFILE%\Downloads"
    )
    found = windows_accounts.landing_folders(alice, source, service_env)
    assert found[0] == r"C:\Users\alice\Downloads"


def test_outlook_secure_temp_comes_from_the_users_own_hive(tmp_path: Path) -> None:
    security = r"Software\Microsoft\Office\16.0\Outlook\Security"
    temp = r"C:\Users\alice\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\AB12CD34"
    source = registry(
        tmp_path,
        rf"HKU\{ALICE}\{security}\OutlookSecureTempFolder={temp}\\",
        rf"HKU\{BOB}\{security}\OutlookSecureTempFolder=C:\Users\bob\Outlook-temp",
    )
    alice = windows_accounts.Profile(ALICE, "alice", r"C:\Users\alice")
    found = windows_accounts.landing_folders(alice, source, MACHINE_ENV)
    assert found == [
        r"C:\Users\alice\Downloads",
        temp,
        r"C:\Users\alice\AppData\Local\Microsoft\Olk\Attachments",
    ]


def test_thunderbird_runs_in_the_users_temp() -> None:
    alice = windows_accounts.Profile(ALICE, "alice", r"C:\Users\alice")
    assert windows_accounts.landing_globs(alice) == [r"C:\Users\alice\AppData\Local\Temp\pid-*"]


def test_registry_subkeys_are_the_next_key_names_in_order(tmp_path: Path) -> None:
    source = profile_list(tmp_path, rf"{PROFILE_LIST}\ValueOnly=1")
    assert source.subkeys(PROFILE_LIST) == [
        "S-1-5-18",
        "S-1-5-19",
        "S-1-5-20",
        ALICE,
        BOB,
        f"{BOB}.bak",
        ENTRA,
    ]
    assert source.subkeys(rf"{PROFILE_LIST}\{ALICE}") == []
    assert folders.FileRegistry(tmp_path / "absent.txt").subkeys(PROFILE_LIST) == []


def _caller(uid: int = -1, sid: str = "", is_it: bool = False) -> Caller:
    return Caller(uid=uid, gid=uid, pid=4242, name="x", groups=frozenset(), is_it=is_it, sid=sid)


def _item(**owner: object) -> QuarantineItem:
    finding = Finding("trailer.zip", Severity.HIGH, "ZIP after the image")
    item = QuarantineItem(
        id="ab" * 16, original_path="/srv/in/x.jpg", name="x.jpg", size=4,
        sha256="0" * 64, quarantined_at=1.0, mtime=1.0, findings=(finding,),
        policy_version="v", user="SYSTEM", detected_type="jpeg",
    )  # fmt: skip
    return dataclasses.replace(item, **owner)  # type: ignore[arg-type]


def test_windows_staff_own_the_items_of_their_sid_only() -> None:
    item = _item(owner_sid=ALICE)
    assert owns(_caller(sid=ALICE), item)
    assert not owns(_caller(sid=BOB), item)
    # Windows callers all have uid -1: a record without an owner is nobody's.
    assert not owns(_caller(sid=ALICE), _item())
    assert not owns(_caller(), _item())
    # A POSIX record (owner_uid) never matches a SID caller, and the reverse.
    assert not owns(_caller(uid=1000, sid=ALICE), _item(owner_uid=1000))
    assert not owns(_caller(uid=1000), _item(owner_uid=1000, owner_sid=ALICE))
    assert owns(_caller(uid=1000), _item(owner_uid=1000))


def test_caller_key_and_description_use_the_sid_on_windows() -> None:
    assert _caller(sid=ALICE).key == ALICE
    assert _caller(uid=1000).key == "uid:1000"
    assert _caller(sid=ALICE).describe() == f"x ({ALICE})"
    assert _caller(uid=1000).describe() == "x (uid 1000)"
    assert LocalUser(-1, -1, "alice", Path("/u/alice"), ALICE).key == ALICE
    assert LocalUser(1000, 1000, "alice", Path("/home/alice")).key == "uid:1000"


def test_records_keep_the_owner_sid_and_refuse_one_that_is_not_a_sid() -> None:
    item = _item(owner_sid=ALICE)
    fields = item.record_fields()
    assert fields["owner_sid"] == ALICE and "owner_uid" not in fields
    assert QuarantineItem.from_record_fields(item.id, fields) == item
    assert "owner_sid" not in _item(owner_uid=1000).record_fields()
    for bad in ("alice", "S-1-5-21-1-2-3-1001; rm", 1001, "s-1-5-21-1"):
        with pytest.raises(VaultError, match="owner_sid"):
            QuarantineItem.from_record_fields(item.id, {**fields, "owner_sid": bad})


def test_windows_placement_checks_the_folder_owner_sid_and_chowns_nothing() -> None:
    assert placement_for(-1, -1, ALICE) == Placement(owner=None, folder_uid=None, folder_sid=ALICE)
    assert placement_for(1000, 100, "") == Placement(owner=(1000, 100), folder_uid=1000)


def test_a_windows_placement_refuses_a_folder_whose_owner_sid_is_unknown(tmp_path: Path) -> None:
    """On Linux the platform knows no SIDs (""), so a Windows placement refuses every folder."""
    from agent.vault.store import Vault

    vault = Vault(tmp_path / "vault")
    photo = tmp_path / "in" / "x.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"\xff\xd8\xff\xd9" + b"PK\x05\x06" + b"\0" * 18)
    item = vault.quarantine(
        photo, [Finding("trailer.zip", Severity.HIGH, "zip")], detected_type="jpeg",
        policy_version="v",
    )  # fmt: skip
    with pytest.raises(VaultError, match="does not belong to the file's owner"):
        vault.restore(item.id, placement=Placement(folder_sid=ALICE))
    assert not photo.exists()
    restored = vault.restore(item.id, placement=Placement(folder_uid=photo.parent.stat().st_uid))
    assert restored.read_bytes() == b"\xff\xd8\xff\xd9" + b"PK\x05\x06" + b"\0" * 18


def test_the_service_watches_the_folders_each_windows_account_owns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MachineFolders over WindowsAccounts: ProfileList accounts, folders kept by owner SID.

    On Linux a Windows path is one file name: the test makes folders with those names in its
    working folder, so lstat sees real folders (and a real symlink standing in for a junction).
    """
    from agent.policy.schema import Policy
    from agent.service.machine import MachineFolders
    from agent.service.windows_accounts import WindowsAccounts

    monkeypatch.chdir(tmp_path)
    source = profile_list(
        tmp_path,
        # bob's hive points Downloads at a system folder he does not own
        rf"HKU\{BOB}\{SHELL_FOLDERS}\{DOWNLOADS_GUID}=%SystemRoot%\Temp",
    )
    (tmp_path / r"C:\Users\alice\Downloads").mkdir()
    (tmp_path / r"C:\Windows\Temp").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / r"C:\Users\DrChen\Downloads").symlink_to(tmp_path / "elsewhere")
    owners = {
        r"C:\Users\alice\Downloads": ALICE,
        r"C:\Windows\Temp": "S-1-5-18",
        r"C:\Users\DrChen\Downloads": ENTRA,  # owned, but a link: refused anyway
    }
    accounts = WindowsAccounts(
        source, MACHINE_ENV, owner_sid=lambda path: owners.get(str(path), ""),
        is_folder=lambda path: True,
    )  # fmt: skip
    machine = MachineFolders(accounts=accounts)
    policy = Policy()
    assert machine.patterns(policy) == [
        r"C:\Users\DrChen\AppData\Local\Microsoft\Olk\Attachments",  # missing: watched when made
        r"C:\Users\DrChen\AppData\Local\Temp\pid-*",
        r"C:\Users\alice\Downloads",
        r"C:\Users\alice\AppData\Local\Microsoft\Olk\Attachments",
        r"C:\Users\alice\AppData\Local\Temp\pid-*",
        r"C:\Users\bob\AppData\Local\Microsoft\Olk\Attachments",
        r"C:\Users\bob\AppData\Local\Temp\pid-*",
    ]
    alice, bob = (u for u in accounts.users() if u.name in ("alice", "bob"))
    assert machine.is_landing_folder_of(Path(r"C:\Users\alice\Downloads"), alice, policy)
    assert not machine.is_landing_folder_of(Path(r"C:\Users\alice\Downloads"), bob, policy)
    assert not machine.is_landing_folder_of(Path(r"C:\Windows\Temp"), bob, policy)
    stranger = LocalUser(-1, -1, "ghost", Path(r"C:\Users\ghost"), "S-1-5-21-9-9-9-1009")
    assert not machine.is_landing_folder_of(Path(r"C:\Users\alice\Downloads"), stranger, policy)
    assert [u.name for u in accounts.users(["ALICE", "drchen"])] == ["DrChen", "alice"]


def test_macos_mail_families_are_the_accounts_own_and_tmp_families_shared() -> None:
    """Apple Mail's per-message folders live in each home; Thunderbird's pid-* in /tmp."""
    from agent.service.accounts import PosixAccounts

    ann = LocalUser(501, 20, "ann", Path("/Users/ann"))
    mac = PosixAccounts("darwin")
    mail = "/Users/ann/Library/Containers/com.apple.mail/Data/Library/Mail Downloads"
    assert mac.landing_globs(ann) == [f"{mail}/*", "/Users/ann/Library/Mail Downloads/*"]
    assert mac.shared_globs() == ["/tmp/pid-*"]
    assert mail in mac.landing_folders(ann) and "/Users/ann/Downloads" in mac.landing_folders(ann)
    linux = PosixAccounts("linux")
    assert linux.landing_globs(LocalUser(1000, 1000, "ann", Path("/home/ann"))) == []
    assert linux.shared_globs() == ["/tmp/pid-*"]


class _OwnersBySid(type(platform.current())):  # type: ignore[misc]
    """This machine's platform, with the two Windows answers Linux cannot give: owners by SID."""

    def owner_sid(self, path: Path) -> str:
        return ALICE if path.name.startswith("alice") else ""

    def account_name(self, sid: str) -> str:
        return {ALICE: "alice"}.get(sid, "")


def test_a_quarantined_file_records_its_owner_sid_and_the_owners_name(tmp_path: Path) -> None:
    from agent.vault.store import Vault

    vault = Vault(tmp_path / "vault")
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("alice-scan.jpg", "nobody.jpg"):
        (folder / name).write_bytes(b"\xff\xd8\xff\xd9MZ")
    previous = platform.use(_OwnersBySid())
    try:
        finding = [Finding("trailer.pe", Severity.HIGH, "program")]
        mine = vault.quarantine(
            folder / "alice-scan.jpg", finding, detected_type="jpeg", policy_version="v"
        )
        other = vault.quarantine(
            folder / "nobody.jpg", finding, detected_type="jpeg", policy_version="v"
        )
    finally:
        platform.use(previous)
    assert (mine.owner_sid, mine.user) == (ALICE, "alice")
    assert vault.get(mine.id).owner_sid == ALICE  # signed into the record, read back
    assert other.owner_sid == ""
    assert owns(_caller(sid=ALICE), vault.get(mine.id))
    assert not owns(_caller(sid=ALICE), vault.get(other.id))
    assert owner_name(-1, BOB) == BOB  # no name known: the SID itself
