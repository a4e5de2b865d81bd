"""A feed's stored error (English, as the pipeline wrote it) shown in the reader's language."""

from __future__ import annotations

import ipaddress
from string import Formatter

import pytest
from django.utils import translation
from django.utils.translation import gettext

from liseuse.feeds.reasons import readable
from liseuse.pipeline import reasons
from liseuse.pipeline.netguard import AddressPolicy
from liseuse.pipeline.parse import parse_feed
from liseuse.pipeline.types import ParseError


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def filled(template: str) -> str:
    """The template with a distinctive value in each field (a field named twice, twice)."""
    return template.format(**{name: f"<{name} 7>" for name in fields(template)})


def test_the_templates_are_found() -> None:
    assert len(reasons.TEMPLATES) > 40
    assert reasons.CONNECT_FAILED in reasons.TEMPLATES and reasons.LOOPBACK in reasons.TEMPLATES


@pytest.mark.parametrize("template", reasons.TEMPLATES)
def test_each_reason_reads_back_as_itself_in_english(template: str) -> None:
    with translation.override("en"):
        assert readable(filled(template)) == filled(template)


@pytest.mark.parametrize("template", reasons.TEMPLATES)
def test_each_reason_reads_in_french_with_its_fields_kept(template: str) -> None:
    with translation.override("fr"):
        french = gettext(template)
        assert french != template  # translated
        assert fields(french) == fields(template)  # the same fields: nothing lost, no KeyError
        assert readable(filled(template)) == french.format(
            **{name: f"<{name} 7>" for name in fields(template)}
        )


def test_reasons_inside_reasons_are_read_too() -> None:
    refusal = AddressPolicy().refusal(
        ipaddress.ip_address("::ffff:127.0.0.1"), host="intra.example"
    )
    assert refusal == (
        "refused: intra.example resolves to ::ffff:7f00:1 (that is 127.0.0.1), which is a "
        "loopback address (set LISEUSE_ALLOW_PRIVATE_NETWORKS to allow)"
    )
    with translation.override("fr"):
        assert readable(refusal) == (
            "refusé : intra.example se résout en ::ffff:7f00:1 (c’est-à-dire 127.0.0.1), qui est "
            "une adresse de bouclage (loopback) (réglez LISEUSE_ALLOW_PRIVATE_NETWORKS pour "
            "l’autoriser)"
        )
        nothing = reasons.NOTHING_FOUND.format(url="https://a.example/", reason=reasons.EMPTY_BODY)
        assert readable(nothing) == "aucun flux trouvé à https://a.example/ (la réponse est vide)"


def test_a_parser_error_as_raised_reads_in_french() -> None:
    with pytest.raises(ParseError) as raised:
        parse_feed(b"<html><body>hello</body></html>", url="https://a.example/")
    with translation.override("fr"):
        assert readable(str(raised.value)) == "c’est une page HTML, pas un flux"


def test_the_more_specific_template_wins() -> None:
    timeout = reasons.CONNECT_TIMEOUT.format(host="a.example", seconds="10")
    with translation.override("fr"):
        assert readable(timeout) == "connexion impossible à a.example en 10 s"


def test_what_no_template_says_is_shown_as_it_is() -> None:
    with translation.override("fr"):
        assert readable("HTTP 404 Not Found") == "HTTP 404 Not Found"
        assert readable("something a person typed") == "something a person typed"
        assert readable("") == ""
