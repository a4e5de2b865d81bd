"""The French and English catalogs are complete, and the compiled .mo files (committed, so that
a fresh machine needs no gettext) say what the .po files say."""

from __future__ import annotations

import ast
import gettext
from dataclasses import dataclass
from pathlib import Path

import pytest

import liseuse

LOCALE = Path(liseuse.__file__).parent / "locale"


@dataclass
class Message:
    context: str | None
    msgid: str
    msgstr: str
    fuzzy: bool


def read_po(path: Path) -> list[Message]:
    """Entries of a .po file (enough of the format for what makemessages writes)."""
    messages = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        fuzzy = False
        for line in block.splitlines():
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            elif line.startswith("#~"):
                current = ""  # an obsolete entry: not in use
                fields = {}
                break
            elif line.startswith(("msgctxt ", "msgid ", "msgstr ")):
                current, _, value = line.partition(" ")
                fields[current] = ast.literal_eval(value)
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
        if fields.get("msgid"):
            messages.append(
                Message(fields.get("msgctxt"), fields["msgid"], fields.get("msgstr", ""), fuzzy)
            )
    return messages


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_message_is_translated_and_none_is_fuzzy(language: str) -> None:
    messages = read_po(LOCALE / language / "LC_MESSAGES" / "django.po")
    assert len(messages) > 50
    missing = [m.msgid for m in messages if not m.msgstr]
    fuzzy = [m.msgid for m in messages if m.fuzzy]
    assert not missing, f"{language}: untranslated: {missing}"
    assert not fuzzy, f"{language}: fuzzy: {fuzzy}"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_compiled_catalog_matches_the_po_file(language: str) -> None:
    folder = LOCALE / language / "LC_MESSAGES"
    with (folder / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for message in read_po(folder / "django.po"):
        if not message.msgstr or message.fuzzy:
            continue
        if message.context is None:
            got = compiled.gettext(message.msgid)
        else:
            got = compiled.pgettext(message.context, message.msgid)
        if got != message.msgstr:
            stale.append(message.msgid)
    assert not stale, f"{language}: run compilemessages; stale: {stale[:10]}"


def test_the_french_screen_says_what_freshrss_says() -> None:
    french = {m.msgid: m.msgstr for m in read_po(LOCALE / "fr" / "LC_MESSAGES" / "django.po")}
    assert french["Normal view"] == "Vue normale"
    assert french["Main stream"] == "Flux principal"
    assert french["Before yesterday"] == "À partir d’avant-hier"
    assert french["By: %(author)s"] == "Par : %(author)s"
