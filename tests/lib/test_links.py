from __future__ import annotations

from liseuse.lib.links import for_apps
from liseuse.lib.links import media_type_for_apps


def test_what_could_end_an_attribute_or_open_a_tag_is_percent_encoded() -> None:
    assert for_apps("https://e.example/a\"b'c<d>e`f g\th\x7f") == (
        "https://e.example/a%22b%27c%3Cd%3Ee%60f%20g%09h%7F"
    )


def test_everything_else_stays_as_it_was() -> None:
    url = "https://é.example/chemin/déjà?q=a&b=%22c%22;d=(e)#fragment~!$*+,"
    assert for_apps(url) == url
    # Encoding twice changes nothing more: "%" itself is left alone.
    assert for_apps(for_apps('https://e.example/"')) == "https://e.example/%22"


def test_a_media_type_is_given_only_if_it_is_one() -> None:
    assert media_type_for_apps("audio/mpeg") == "audio/mpeg"
    assert media_type_for_apps('audio/mp4; codecs="mp4a.40.2"') == "audio/mp4"
    assert media_type_for_apps("image") == "image"  # a thumbnail's medium, as FreshRSS says
    assert media_type_for_apps("imagery") == ""
    assert media_type_for_apps('audio/mpeg" onload="alert(1)') == ""
    assert media_type_for_apps("audio/mpeg'><x>") == ""
    assert media_type_for_apps("") == ""
