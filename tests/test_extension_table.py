"""The extension table is generated from the published danger tables, and is up to date."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from agent.inspect import extension_table

REPO = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_extension_table", REPO / "scripts" / "gen_extension_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


def test_generated_module_matches_the_generator_output() -> None:
    gen = _generator()
    version, entries = gen.parse(gen.DEFAULT_SOURCE.read_text(encoding="utf-8"))
    committed = (REPO / "agent" / "inspect" / "extension_table.py").read_text(encoding="utf-8")
    assert gen.render(version, entries) == committed, "rerun scripts/gen_extension_table.py"


def test_parser_reads_the_upstream_layout() -> None:
    # the layout of the full Chromium file: comments, nested blocks, per-platform overrides
    text = """
    version_id: 49
    default_file_type { uma_value: 18 platform_settings { danger_level: NOT_DANGEROUS } }
    file_types {
      # a comment { with braces }
      extension: "sh"
      uma_value: 137
      platform_settings { danger_level: ALLOW_ON_USER_GESTURE auto_open_hint: DISALLOW_AUTO_OPEN }
      platform_settings { platform: PLATFORM_WINDOWS danger_level: NOT_DANGEROUS }
    }
    file_types {
      extension: "dex" platform_settings { platform: PLATFORM_ANDROID danger_level: DANGEROUS }
    }
    file_types { extension: "7z" is_archive: true ping_setting: FULL_PING }
    file_types { extension: "jpg" ping_setting: SAMPLED_PING }
    """
    gen = _generator()
    version, entries = gen.parse(text)
    assert version == 49
    assert [e.extension for e in entries] == ["sh", "dex", "7z", "jpg"]
    by_ext = {e.extension: e for e in entries}
    assert gen.runs_code(by_ext["sh"])  # dangerous on Linux and macOS although not on Windows
    assert not gen.runs_code(by_ext["dex"])  # Android only: not a desktop lure
    assert by_ext["7z"].archive and not gen.runs_code(by_ext["7z"])
    assert not gen.runs_code(by_ext["jpg"])


def test_tables_hold_the_documented_facts() -> None:
    assert extension_table.CHROMIUM_TABLE_VERSION == 49
    assert extension_table.CHROMIUM_ENTRIES_READ == 301
    code = extension_table.CODE_EXTENSIONS
    for ext in ("exe", "scr", "hta", "settingcontent-ms", "appref-ms", "xbap", "pyd", "webloc"):
        assert ext in code  # Chromium DANGEROUS / ALLOW_ON_USER_GESTURE
    for ext in ("library-ms", "pssc", "udl", "wsb"):
        assert ext in code  # Outlook Level 1 only
    for ext in ("zip", "7z", "iso", "vhdx", "cab", "r00"):
        assert ext in extension_table.CONTAINER_EXTENSIONS and ext not in code
    for ext in ("jpg", "png", "pdf", "txt", "mp4"):
        assert ext not in code and ext not in extension_table.CONTAINER_EXTENSIONS
    assert "xml" in extension_table.DATA_WARNED_EXTENSIONS and "xml" not in code
    assert {"lnk", "url", "pif", "scf"} <= extension_table.ALWAYS_HIDDEN_EXTENSIONS
