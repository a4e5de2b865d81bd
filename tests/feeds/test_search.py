"""Search: the parser (query → tree), date intervals, and the compiled filter on the database."""

from __future__ import annotations

import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from liseuse.accounts.models import User
from liseuse.feeds import fulltext
from liseuse.feeds import queries
from liseuse.feeds import search
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.models import Subscription
from liseuse.feeds.search import And
from liseuse.feeds.search import Dates
from liseuse.feeds.search import Ids
from liseuse.feeds.search import InUrl
from liseuse.feeds.search import LabelNames
from liseuse.feeds.search import Not
from liseuse.feeds.search import Or
from liseuse.feeds.search import Regex
from liseuse.feeds.search import Saved
from liseuse.feeds.search import SearchError
from liseuse.feeds.search import Text
from liseuse.feeds.search import parse
from liseuse.feeds.search import parse_interval

NOW = datetime(2024, 5, 30, 12, 0, tzinfo=UTC)


def p(query: str) -> object:
    return parse(query, now=NOW, tz=UTC)


# --- parser -------------------------------------------------------------------------------------


def test_words_are_anded_and_phrases_kept_whole() -> None:
    assert p('été "un mot"') == And((Text("été"), Text("un mot", phrase=True)))


def test_field_operators_take_bare_quoted_or_regex_values() -> None:
    assert p('intitle:"deux mots" author:Ada inurl:un.example') == And(
        (
            Text("deux mots", phrase=True, field="title"),
            Text("Ada", phrase=True, field="author"),
            InUrl("un.example"),
        )
    )
    assert p("intitle:/^Le/i") == Regex("^Le", "i", field="title")
    assert p("inurl:/x/") == Regex("x", "", field="url")


def test_tags_accept_plus_for_spaces_and_quotes() -> None:
    assert p("#logiciel+libre") == Text("logiciel libre", phrase=True, field="tag")
    assert p("#'logiciel libre'") == Text("logiciel libre", phrase=True, field="tag")


def test_minus_and_bang_negate_terms_and_groups() -> None:
    assert p("-a !intitle:b") == And((Not(Text("a")), Not(Text("b", phrase=True, field="title"))))
    assert p("!(a OR b)") == Not(Or((Text("a"), Text("b"))))


def test_or_binds_looser_than_and() -> None:
    assert p("a b OR c") == Or((And((Text("a"), Text("b"))), Text("c")))
    assert p("a (b OR c)") == And((Text("a"), Or((Text("b"), Text("c")))))


def test_lower_case_or_is_a_word_because_french_says_or() -> None:
    assert p("or massif") == And((Text("or"), Text("massif")))


def test_ids_labels_and_saved_searches() -> None:
    assert p("f:1,2 e:7 L:* l:3") == And(
        (Ids("feed", (1, 2)), Ids("entry", (7,)), Ids("label", ()), Ids("label", (3,)))
    )
    assert p('label:"à lire" labels:a,b') == And((LabelNames(("à lire",)), LabelNames(("a", "b"))))
    assert p('S:4 search:"Ma recherche"') == And(
        (Saved("4", by_id=True), Saved("Ma recherche", by_id=False))
    )


def test_escaped_parentheses_are_literal() -> None:
    assert p(r"f\(x\)") == Text("f(x)")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"open', "not closed"),
        ("(a", "never closed"),
        ("a)", "never opened"),
        ("a OR", "each side"),
        ("f:x", "numbers"),
        ("date:2014-13", "not a date"),
        ("date:2014-05/2014-01", "ends before"),
        ("a" * 1001, "at most"),
        ("(" * 40 + "a" + ")" * 40, "too deeply"),
        (" ".join(["w"] * 65), "at most 64 terms"),
    ],
)
def test_bad_queries_are_refused_with_a_readable_reason(query: str, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        p(query)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab -!()\"'/#:ORfLS1,P\\ é")), max_size=80))
def test_any_text_parses_or_is_refused_readably_and_quickly(query: str) -> None:
    started = time.perf_counter()
    try:
        p(query)
    except SearchError as exc:
        assert str(exc)
    assert time.perf_counter() - started < 0.1


# --- date intervals -----------------------------------------------------------------------------


def d(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "start", "end"),
    [
        ("2014", d(2014, 1, 1), d(2015, 1, 1)),
        ("2014-03", d(2014, 3, 1), d(2014, 4, 1)),
        ("201403", d(2014, 3, 1), d(2014, 4, 1)),
        ("2014-03-30", d(2014, 3, 30), d(2014, 3, 31)),
        ("2014-05-30T13", d(2014, 5, 30, 13), d(2014, 5, 30, 14)),
        ("2014-05-30T13:30", d(2014, 5, 30, 13, 30), d(2014, 5, 30, 13, 31)),
        ("2014-02/2014-04", d(2014, 2, 1), d(2014, 5, 1)),
        ("2014-02--2014-04", d(2014, 2, 1), d(2014, 5, 1)),
        ("2014-02/04", d(2014, 2, 1), d(2014, 5, 1)),
        ("2014-02-03/05", d(2014, 2, 3), d(2014, 2, 6)),
        ("2014-02-03T22:00/22:15", d(2014, 2, 3, 22), d(2014, 2, 3, 22, 16)),
        ("2014-02-03T22:00/15", d(2014, 2, 3, 22), d(2014, 2, 3, 22, 16)),
        ("2014-03/", d(2014, 3, 1), None),
        ("/2014-03", None, d(2014, 4, 1)),
        ("2014-03/P1W", d(2014, 3, 1), d(2014, 3, 8)),
        ("P1W/2014-05-25T23:59:59", d(2014, 5, 19), d(2014, 5, 26)),
        ("P1Y", d(2023, 5, 30, 12), None),
        ("P2M/", d(2024, 3, 30, 12), None),
        ("PT30M/", d(2024, 5, 30, 11, 30), None),
        ("P1DT1H/", d(2024, 5, 29, 11), None),
    ],
)
def test_iso_8601_dates_and_intervals(
    raw: str, start: datetime | None, end: datetime | None
) -> None:
    assert parse_interval(raw, now=NOW, tz=UTC) == (start, end)


def test_date_operators_carry_their_interval() -> None:
    assert p("pubdate:2014") == Dates("pubdate", d(2014, 1, 1), d(2015, 1, 1))


# --- on the database ----------------------------------------------------------------------------


def add_entry(
    feed: Feed,
    users: list[User],
    title: str,
    content: str = "",
    *,
    author: str = "",
    tags: list[str] | None = None,
    url: str = "",
    published: datetime | None = None,
) -> Entry:
    when = published or NOW
    entry = Entry.objects.create(
        feed=feed,
        identity=f"{feed.pk}-{Entry.objects.count()}",
        content_hash="x",
        title=title,
        content=content,
        author=author,
        categories=tags or [],
        url=url,
        published=when,
        first_seen=when,
    )
    for user in users:
        EntryState.objects.create(user=user, entry=entry, feed=feed, sort_date=when)
    return entry


@pytest.fixture
def library(alice: User, bob: User) -> dict[str, Entry]:
    one = Feed.objects.create(url="https://un.example/feed", title="Un")
    two = Feed.objects.create(url="https://deux.example/feed", title="Deux")
    for feed in (one, two):
        Subscription.objects.create(user=alice, feed=feed)
    Subscription.objects.create(user=bob, feed=two)
    return {
        "ete": add_entry(
            one,
            [alice],
            "L'Été des Logiciels",
            "<p>Une <b>belle</b> saison pour le libre.</p>",
            author="Camille Dupré",
            tags=["Logiciel libre", "été"],
            url="https://un.example/ete",
            published=datetime(2024, 3, 5, tzinfo=UTC),
        ),
        "hiver": add_entry(
            one,
            [alice],
            "Hiver",
            "<p>Il fait froid; le soleil est rare.</p>",
            author="Ada",
            tags=["saisons"],
            url="https://un.example/hiver",
            published=datetime(2024, 1, 10, tzinfo=UTC),
        ),
        "shared": add_entry(
            two,
            [alice, bob],
            "Nouvelles du soleil",
            "<p>Le Soleil brille.</p>",
            url="https://deux.example/soleil",
            published=datetime(2024, 5, 1, tzinfo=UTC),
        ),
    }


def found(user: User, query: str) -> set[str]:
    flt = queries.StreamFilter(state="all", search=query)
    return {s.entry.title for s in queries.stream(user, flt, limit=100).entries}


@pytest.mark.django_db
def test_words_match_without_regard_to_case_accents_or_word_endings(
    alice: User, library: dict[str, Entry]
) -> None:
    assert found(alice, "ete") == {"L'Été des Logiciels"}
    assert found(alice, "ÉTÉ logiciel") == {"L'Été des Logiciels"}
    assert found(alice, "soleil") == {"Hiver", "Nouvelles du soleil"}
    assert found(alice, "soleil -froid") == {"Nouvelles du soleil"}
    assert found(alice, '"soleil brille"') == {"Nouvelles du soleil"}
    assert found(alice, "introuvable") == set()


@pytest.mark.django_db
@pytest.mark.parametrize("small_match", [search.SMALL_MATCH, 0])
def test_a_short_word_matches_whole_words_and_a_longer_one_their_beginning(
    alice: User, library: dict[str, Entry], monkeypatch: pytest.MonkeyPatch, small_match: int
) -> None:
    # As a prefix, "le" matched a large share of the vocabulary: 0.7 s on 100,000 entries.
    monkeypatch.setattr(search, "SMALL_MATCH", small_match)  # 0: the many-matches path too
    add_entry(library["ete"].feed, [alice], "Lecteurs", "<p>Des lectures, un lexique.</p>")
    with_le = {"L'Été des Logiciels", "Hiver", "Nouvelles du soleil"}  # "le" as a word
    assert found(alice, "le") == with_le
    assert found(alice, "LE") == with_le
    assert found(alice, "l") == {"L'Été des Logiciels"}  # "L'Été": "l" is a word of its own
    assert found(alice, "le -lec") == with_le
    # Three letters and more: the beginning of a word.
    assert found(alice, "lec") == {"Lecteurs"}
    assert found(alice, "lex") == {"Lecteurs"}
    assert found(alice, "sol") == {"Hiver", "Nouvelles du soleil"}
    # The last word decides, also when a term is split into several words.
    assert found(alice, "l'et") == set()
    assert found(alice, "l'été") == {"L'Été des Logiciels"}


@pytest.mark.django_db
def test_a_plain_word_reads_the_title_and_text_not_the_tags_or_author(
    alice: User, library: dict[str, Entry]
) -> None:
    # "saisons" is only a tag of "Hiver", "Ada" only its author ("saison" is in another text).
    assert found(alice, "saisons") == set()
    assert found(alice, "#saisons") == {"Hiver"}
    assert found(alice, "ada") == set()
    assert found(alice, "author:ada") == {"Hiver"}
    assert found(alice, '"saison pour"') == {"L'Été des Logiciels"}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's columns (0002, 0008)")
def test_on_postgresql_words_use_the_title_and_text_column_fields_the_weighted_one(
    alice: User, library: dict[str, Entry]
) -> None:
    search.index_pending()
    hiver = library["hiver"].pk
    with connection.cursor() as cursor:
        # Every indexed row has both parts of its document: title and text, title and fields.
        cursor.execute(
            "SELECT count(*) FROM feeds_entry, LATERAL (SELECT liseuse_entry_document("
            "title, content, author, categories::jsonb) AS d) AS document "
            "WHERE liseuse_text = ts_filter(d, '{a,d}') AND liseuse_search = ts_filter(d, '{a,b,c}')"
        )
        assert cursor.fetchone()[0] == Entry.objects.count() == 3
        # Emptied by hand: plain words stop finding the entry, fields do not.
        cursor.execute("UPDATE feeds_entry SET liseuse_text = ''::tsvector WHERE id = %s", [hiver])
    assert found(alice, "froid") == set()
    assert found(alice, "soleil") == {"Nouvelles du soleil"}
    assert found(alice, "intitle:hiver") == {"Hiver"}
    assert found(alice, "#saisons author:ada") == {"Hiver"}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's columns (0006, 0008)")
def test_on_postgresql_a_changed_entry_is_queued_and_indexed_again_in_both_columns(
    alice: User, library: dict[str, Entry]
) -> None:
    search.index_pending()
    entry = library["hiver"]

    def documents() -> tuple[str | None, str | None]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT liseuse_search::text, liseuse_text::text FROM feeds_entry WHERE id = %s",
                [entry.pk],
            )
            row = cursor.fetchone()
            return row[0], row[1]

    assert None not in documents()
    Entry.objects.filter(pk=entry.pk).update(content="<p>Il neige.</p>", categories=["neige"])
    assert documents() == (None, None)  # both back in the queue
    assert search.index_pending() == 1
    weighted, text = documents()
    assert weighted == "'ada':2B 'hiver':1A 'neige':3C"
    assert text == "'hiver':1A 'il':4 'neige':5"
    assert found(alice, "neige") == {"Hiver"} and found(alice, "froid") == set()
    assert found(alice, "#neige") == {"Hiver"} and found(alice, "#saisons") == set()


@pytest.mark.django_db
def test_fields_tags_urls_and_authors(alice: User, library: dict[str, Entry]) -> None:
    assert found(alice, "intitle:soleil") == {"Nouvelles du soleil"}
    assert found(alice, "author:dupre") == {"L'Été des Logiciels"}
    assert found(alice, "#logiciel+libre") == {"L'Été des Logiciels"}
    assert found(alice, "-#saisons") == {"L'Été des Logiciels", "Nouvelles du soleil"}
    assert found(alice, "inurl:deux.example") == {"Nouvelles du soleil"}


@pytest.mark.django_db
def test_or_groups_feeds_and_dates(alice: User, library: dict[str, Entry]) -> None:
    one = library["ete"].feed_id
    assert found(alice, "froid OR brille") == {"Hiver", "Nouvelles du soleil"}
    assert found(alice, f"f:{one} (froid OR saison)") == {"L'Été des Logiciels", "Hiver"}
    assert found(alice, f"!f:{one}") == {"Nouvelles du soleil"}
    assert found(alice, "pubdate:2024-03") == {"L'Été des Logiciels"}
    assert found(alice, "pubdate:2024-02/2024-05") == {"L'Été des Logiciels", "Nouvelles du soleil"}
    assert found(alice, "date:/2024-02") == {"Hiver"}


@pytest.mark.django_db
def test_labels_by_name_and_id(alice: User, library: dict[str, Entry]) -> None:
    label = queries.label_named(alice, "À lire")
    assert label is not None
    queries.set_label(alice, [library["hiver"].pk], label, True)
    assert found(alice, 'label:"à lire"') == {"Hiver"}
    assert found(alice, f"L:{label.pk}") == {"Hiver"}
    assert found(alice, "L:*") == {"Hiver"}
    assert found(alice, "-L:*") == {"L'Été des Logiciels", "Nouvelles du soleil"}


@pytest.mark.django_db
def test_regular_expressions_run_on_re2(alice: User, library: dict[str, Entry]) -> None:
    assert found(alice, "/Soleil/") == {"Nouvelles du soleil"}
    assert found(alice, "/soleil/i") == {"Hiver", "Nouvelles du soleil"}
    assert found(alice, "intitle:/^L'/") == {"L'Été des Logiciels"}
    with pytest.raises(SearchError, match="regular expression"):
        found(alice, r"/(a)\1/")


@pytest.mark.django_db
def test_a_catastrophic_regex_stays_fast(alice: User, library: dict[str, Entry]) -> None:
    add_entry(library["ete"].feed, [alice], "a" * 50_000 + "!", "a" * 50_000 + "!")
    started = time.perf_counter()
    assert found(alice, "/^(a+)+$/") == set()
    assert time.perf_counter() - started < 2


@pytest.mark.django_db
def test_saved_searches_can_be_inlined_by_name_or_id(
    alice: User, library: dict[str, Entry]
) -> None:
    saved = SavedQuery.objects.create(user=alice, name="Froid", query="froid OR brille")
    assert found(alice, "search:froid") == {"Hiver", "Nouvelles du soleil"}
    assert found(alice, f"S:{saved.pk} -intitle:hiver") == {"Nouvelles du soleil"}
    SavedQuery.objects.create(user=alice, name="boucle", query="search:boucle")
    with pytest.raises(SearchError, match="too deeply"):
        found(alice, "search:boucle")
    with pytest.raises(SearchError, match="no saved search"):
        found(alice, "search:inconnue")


@pytest.mark.django_db
def test_a_search_never_reaches_anothers_entries_or_saved_searches(
    alice: User, bob: User, library: dict[str, Entry]
) -> None:
    assert found(bob, "soleil OR froid") == {"Nouvelles du soleil"}
    assert found(bob, f"e:{library['hiver'].pk}") == set()
    assert found(bob, "/froid/") == set()
    SavedQuery.objects.create(user=alice, name="secret", query="froid")
    with pytest.raises(SearchError):
        found(bob, "search:secret")


@pytest.mark.django_db
def test_the_index_follows_edits_and_deletions(alice: User, library: dict[str, Entry]) -> None:
    entry = library["hiver"]
    Entry.objects.filter(pk=entry.pk).update(title="Printemps", content="bourgeons")
    assert found(alice, "bourgeons") == {"Printemps"}
    assert found(alice, "froid") == set()
    Entry.objects.filter(pk=entry.pk).delete()
    assert found(alice, "bourgeons") == set()


@pytest.mark.django_db
def test_an_entry_in_the_future_of_now_is_still_dated_by_interval(
    alice: User, library: dict[str, Entry]
) -> None:
    # Relative intervals count back from now: the entries of 2024 are all older than a week.
    recent = timedelta(days=7)
    assert recent.days == 7
    assert found(alice, "pubdate:P1W") == set()


@pytest.mark.django_db
def test_many_matches_go_through_a_subquery_with_the_same_results(
    alice: User, library: dict[str, Entry], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "SMALL_MATCH", 0)
    assert found(alice, "soleil") == {"Hiver", "Nouvelles du soleil"}
    assert found(alice, "soleil -froid") == {"Nouvelles du soleil"}
    assert found(alice, "introuvable") == set()


@pytest.mark.django_db
def test_the_index_triggers_survive_every_migration() -> None:
    # A later migration that rebuilds feeds_entry on SQLite (Django copies the table) drops its
    # triggers: such a migration must create them again, and this test says so.
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'feeds_entry'"
            )
            expected = {
                "liseuse_entry_fts_insert",
                "liseuse_entry_fts_delete",
                "liseuse_entry_fts_update",
            }
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'feeds_entry'::regclass "
                "AND NOT tgisinternal"
            )
            expected = {"liseuse_entry_search"}
        assert expected <= {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_new_entries_wait_for_the_index_and_a_search_takes_them_in(
    alice: User, library: dict[str, Entry], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    from liseuse.feeds import search

    feed = library["ete"].feed
    add_entry(feed, [alice], "Printemps", "<p>Les bourgeons éclosent.</p>")

    def pending() -> int:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("SELECT count(*) FROM liseuse_entry_fts_pending")
            else:  # PostgreSQL (migration 0006): the queue is the rows without a document
                cursor.execute("SELECT count(*) FROM feeds_entry WHERE liseuse_search IS NULL")
            return int(cursor.fetchone()[0])

    assert pending() == 4  # stored, readable, not yet searchable
    monkeypatch.setattr(search, "INDEX_ON_SEARCH", 1)
    found(alice, "bourgeons")  # a search indexes a bounded bite first
    assert pending() == 3
    assert search.index_pending() == 3 and pending() == 0
    assert found(alice, "bourgeons") == {"Printemps"}


@pytest.mark.django_db
def test_changing_or_deleting_an_entry_keeps_the_index_right_before_and_after_indexing(
    alice: User, library: dict[str, Entry]
) -> None:
    from liseuse.feeds import search

    queued = add_entry(library["ete"].feed, [alice], "Brouillon", "<p>ancien mot</p>")
    Entry.objects.filter(pk=queued.pk).update(title="Version finale", content="<p>nouveau</p>")
    search.index_pending()
    assert found(alice, "finale") == {"Version finale"} and found(alice, "ancien") == set()
    Entry.objects.filter(pk=queued.pk).update(title="Retouchée")
    assert found(alice, "retouchee") == {"Retouchée"} and found(alice, "finale") == set()
    Entry.objects.filter(pk=queued.pk).delete()
    gone = add_entry(library["ete"].feed, [alice], "Éphémère", "<p>bientôt parti</p>")
    gone.delete()  # deleted while still queued
    assert search.index_pending() == 0
    assert found(alice, "retouchee") == set() and found(alice, "ephemere") == set()


@pytest.mark.django_db
def test_markup_is_not_searched_and_a_changed_text_leaves_no_word_behind(
    alice: User, library: dict[str, Entry]
) -> None:
    """The index holds an entry's text, not its HTML (liseuse/feeds/fulltext.py): a link's
    attributes matched nearly every entry. What the triggers take out of the index when an
    entry changes or goes must be what was put in, or its old words would stay findable."""
    from liseuse.feeds import search

    entry = add_entry(
        library["ete"].feed,
        [alice],
        "Balise",
        '<p>Le <a href="https://phares.example/lazy" rel="noopener noreferrer">phare</a>'
        " &amp; l'écume</p>",
    )
    search.index_pending()
    assert found(alice, "phare") == {"Balise"} and found(alice, "ecume") == {"Balise"}
    for markup in ("noopener", "noreferrer", "href", "lazy", "phares"):
        assert found(alice, markup) == set(), markup
    Entry.objects.filter(pk=entry.pk).update(content="<p>Un <em>récif</em> au large</p>")
    assert found(alice, "recif") == {"Balise"}
    assert found(alice, "phare") == set() and found(alice, "ecume") == set()
    Entry.objects.filter(pk=entry.pk).delete()
    assert found(alice, "recif") == set() and found(alice, "large") == set()
    if connection.vendor == "sqlite":  # no markup word in the index at all, no count below 0
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE VIRTUAL TABLE temp.liseuse_vocab "
                "USING fts5vocab(main, liseuse_entry_fts, 'row')"
            )
            cursor.execute(
                "SELECT term, doc FROM temp.liseuse_vocab WHERE doc < 0 OR term IN "
                "('noopener', 'noreferrer', 'href', 'lazy', 'phares')"
            )
            broken = cursor.fetchall()
            cursor.execute("DROP TABLE temp.liseuse_vocab")
        assert broken == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", ""),
        ('<p><img src="https://i.example/1.png" alt="ignored"></p>', ""),
        ("<p>Court</p>", "Court"),
        ("<p>a&lt;b</p>\n<p>c</p>", "a<b c"),
        ("mot " * 30, "mot " * 18 + "mot…"),  # cut after a word, never inside one
        ("x" * 100, "x" * 75 + "…"),  # one long word: cut inside it rather than show nothing
        # The last space is too early: the long word is cut rather than most of the room lost.
        ("Une phrase, puis " + "y" * 80, "Une phrase, puis " + "y" * 58 + "…"),
        ("Une phrase, " + "z" * 59 + " fin", "Une phrase, " + "z" * 59 + " fin"),  # 75: whole
        ("Une liste, " + "z" * 62 + ", et la suite", "Une liste, " + "z" * 62 + "…"),
    ],
)
def test_first_words_stand_for_a_missing_title(content: str, words: str) -> None:
    assert fulltext.first_words(content) == words


def test_a_regex_refused_says_why_in_words() -> None:
    # RE2 gives its reason as bytes: the page said "b'missing ]: ['".
    with pytest.raises(SearchError) as refused:
        search.check_regex("[", "")
    assert str(refused.value).endswith(": missing ]: [") and "b'" not in str(refused.value)
