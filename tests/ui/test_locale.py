"""The French and English catalogs are complete, and the compiled .mo files (committed, so that
a fresh machine needs no gettext) say what the .po files say."""

from __future__ import annotations

import ast
import gettext
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import liseuse

LOCALE = Path(liseuse.__file__).parent / "locale"


@dataclass
class Message:
    context: str | None
    msgid: str
    msgstr: str  # of a plural message: its first form, or "" while any form is missing
    fuzzy: bool
    plural: str | None = None
    forms: tuple[str, ...] = ()


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
            elif line.startswith(("msgctxt ", "msgid ", "msgid_plural ", "msgstr")):
                current, _, value = line.partition(" ")
                fields[current] = ast.literal_eval(value)
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
        if fields.get("msgid"):
            forms = tuple(fields[k] for k in sorted(fields) if k.startswith("msgstr["))
            msgstr = fields.get("msgstr", "")
            if forms:
                msgstr = forms[0] if all(forms) else ""
            messages.append(
                Message(
                    fields.get("msgctxt"),
                    fields["msgid"],
                    msgstr,
                    fuzzy,
                    fields.get("msgid_plural"),
                    forms,
                )
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
        if message.plural is not None:
            # One and two: the first and second forms in both languages (French: n > 1).
            got_forms = tuple(compiled.ngettext(message.msgid, message.plural, n) for n in (1, 2))
            if got_forms != message.forms:
                stale.append(message.msgid)
            continue
        if message.context is None:
            got = compiled.gettext(message.msgid)
        else:
            got = compiled.pgettext(message.context, message.msgid)
        if got != message.msgstr:
            stale.append(message.msgid)
    assert not stale, f"{language}: run compilemessages; stale: {stale[:10]}"


# The functions that mark a string for translation, by the argument(s) that make its key.
_MARKERS = {
    **{"_": 1, "gettext": 1, "gettext_lazy": 1, "gettext_noop": 1, "ngettext": 1},
    **{"pgettext": 2, "pgettext_lazy": 2},
}
_TEMPLATE_MARK = re.compile(
    r"""\{%\s*translate\s+(["'])(?P<msgid>.+?)\1(?:\s+context\s+(["'])(?P<ctx>.+?)\3)?"""
)


def marked_messages() -> set[tuple[str | None, str]]:
    """(context, msgid) of every string the code marks with a literal: gettext calls in the
    Python sources, `{% translate "…" %}` in the templates."""
    found: set[tuple[str | None, str]] = set()
    package = LOCALE.parent
    for path in package.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            width = _MARKERS.get(name or "")
            if not width or len(node.args) < width:
                continue
            literals = node.args[:width]
            if all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in literals):
                values = [a.value for a in literals]  # type: ignore[attr-defined]
                found.add((values[0], values[1]) if width == 2 else (None, values[0]))
    for path in (package / "ui" / "templates").rglob("*.html"):
        for match in _TEMPLATE_MARK.finditer(path.read_text(encoding="utf-8")):
            found.add((match["ctx"], match["msgid"]))
    return found


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_marked_string_is_in_the_catalog(language: str) -> None:
    """A string marked in the code but missing from the catalog would show untranslated: run
    `manage.py makemessages -l fr -l en -i '.venv/*' -i 'tests/*' -i 'bench/*'`, translate."""
    marked = marked_messages()
    assert len(marked) > 200  # the scan finds the strings at all
    catalog = {
        (m.context, m.msgid)
        for m in read_po(LOCALE / language / "LC_MESSAGES" / "django.po")
        if m.msgstr and not m.fuzzy
    }
    missing = sorted(marked - catalog, key=str)
    assert not missing, f"{language}: not in the catalog: {missing[:10]}"


def test_the_french_screen_says_what_freshrss_says() -> None:
    french = {m.msgid: m.msgstr for m in read_po(LOCALE / "fr" / "LC_MESSAGES" / "django.po")}
    assert french["Normal view"] == "Vue normale"
    assert french["Main stream"] == "Flux principal"
    assert french["Before yesterday"] == "À partir d’avant-hier"
    assert french["By: %(author)s"] == "Par : %(author)s"
