"""The parts of the reading pages that repeat hundreds of times, written by Python.

Why not templates: Django's template engine costs a few microseconds per variable, tag and
filter, and a page holds a sidebar of up to hundreds of feeds (twice in the global view) and 50
entries with their three forms each: some 10,000 nodes, which made the page template-bound
(60–85 ms for 500 feeds, measured with bench/ui_speed.py) where issue #4 asks ≤ 30 ms. The same
HTML written here from plain rows costs a few milliseconds. The templates keep everything else.

The templates' rules hold here too: every plain-text value (titles, names, authors, URLs,
errors, labels) goes through `escape`, which writes what Django's auto-escaping writes; only the
entries' stored HTML, sanitized before it was stored, is written as it is; every word shown
comes from gettext, once per page, and is escaped too (as `{% translate %}` output is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from html import escape as _escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.urls import reverse
from django.utils import dateformat
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import pgettext

from liseuse.feeds.media import proxify_html
from liseuse.feeds.models import Subscription

if TYPE_CHECKING:
    from liseuse.feeds.models import Category
    from liseuse.feeds.models import EntryState
    from liseuse.feeds.models import Label


def escape(text: object) -> str:
    """Django's auto-escaping of a plain value: `html.escape` writes the same five entities,
    without wrapping the result in a SafeString (three times faster than
    `django.utils.html.escape`, for the ~1,500 values of a page)."""
    return _escape(str(text), quote=True)


# --- the sidebar and the global view -------------------------------------------------------------


@dataclass(slots=True)
class FeedLine:
    """A followed feed as the sidebar and the global view show it."""

    feed_id: int
    title: str  # the person's title for it, else the feed's, else its URL
    visibility: str
    last_error: str
    unread: int
    url: str = ""
    icon: str = ""  # the favicon's URL, if the feed has one


@dataclass
class CategoryBox:
    category: Category | None
    feeds: list[FeedLine] = field(default_factory=list)

    @property
    def unread(self) -> int:
        """The category's unread count: its feeds' but those hidden from it."""
        hidden = Subscription.Visibility.HIDDEN
        return sum(line.unread for line in self.feeds if line.visibility != hidden)

    @property
    def has_error(self) -> bool:
        return any(line.last_error for line in self.feeds)


def sidebar_boxes(
    boxes: Sequence[CategoryBox], category_url: str, current: tuple[str, int | None]
) -> SafeString:
    """The categories of the sidebar with their feeds. `category_url` has `{}` for the id;
    `current` is the stream shown (kind, id), marked `aria-current`."""
    fold = escape(gettext("Fold or unfold"))
    loose_name = escape(gettext("Uncategorized"))
    problem = escape(gettext("This feed has a problem"))
    kind, ident = current
    out: list[str] = []
    for number, box in enumerate(boxes, 1):
        if box.category is not None:
            here = ' aria-current="page"' if kind == "category" and ident == box.category.id else ""
            head = (
                f'<a href="{category_url.format(box.category.id)}"{here}>'
                f"{escape(box.category.name)}</a>"
            )
        else:
            head = f'<span class="loose">{loose_name}</span>'
        unread = box.unread
        # What the page's script remembers a folded category by (in this browser).
        key = box.category.id if box.category is not None else "loose"
        out.append(
            f'<section class="cat">\n  <h2 class="cat-head"><button type="button" class="fold"'
            f' aria-expanded="true" aria-controls="cat-feeds-{number}" data-fold="{key}" hidden>'
            f'<span aria-hidden="true">▾</span><span class="vh">{fold}</span></button>{head}'
            f' <span class="count" data-count-cat>{unread or ""}</span></h2>\n'
            f'  <ul class="feeds" id="cat-feeds-{number}">\n'
        )
        for line in box.feeds:
            here = ' aria-current="page"' if kind == "feed" and ident == line.feed_id else ""
            icon = (
                f'<img src="{line.icon}" alt="" width="16" height="16" loading="lazy">'
                if line.icon
                else '<span class="noicon" aria-hidden="true"></span>'
            )
            error = (
                f'      <span class="error-mark" title="{escape(line.last_error)}" role="img"'
                f' aria-label="{problem}">⚠</span>\n'
                if line.last_error
                else ""
            )
            # Hidden from its category: left out of the category's count, here and by the
            # page's script when it adds the counts up again.
            hidden = " data-hidden" if line.visibility == Subscription.Visibility.HIDDEN else ""
            out.append(
                f'    <li class="feed{" in-error" if line.last_error else ""}"'
                f' data-feed="{line.feed_id}"{hidden}>\n'
                f'      <a href="{line.url}"{here}>{icon}<span class="name">{escape(line.title)}'
                f"</span></a>\n{error}"
                f'      <span class="count" data-count-feed="{line.feed_id}">'
                f"{line.unread or ''}</span>\n    </li>\n"
            )
        out.append("  </ul>\n</section>\n")
    # Safe: text went through `escape`; the rest are numbers and addresses made by `reverse`.
    return mark_safe("".join(out))


def global_boxes(boxes: Sequence[CategoryBox], category_url: str) -> SafeString:
    """The boxes of the global view: a category's feeds, each opening in the panel."""
    loose_name = escape(gettext("Uncategorized"))
    problem = escape(gettext("This feed has a problem"))
    out: list[str] = []
    for number, box in enumerate(boxes, 1):
        if box.category is not None:
            head = (
                f'<a href="{category_url.format(box.category.id)}?view=normal">'
                f"{escape(box.category.name)}</a>"
            )
        else:
            head = loose_name
        unread = box.unread
        count = f' <span class="count">{unread}</span>' if unread else ""
        out.append(
            f'<section class="box" aria-labelledby="box{number}">\n'
            f'  <h2 id="box{number}">{head}{count}</h2>\n  <ul>\n'
        )
        for line in box.feeds:
            classes = "feed"
            if line.last_error:
                classes += " in-error"
            if not line.unread:
                classes += " empty"
            icon = (
                f'<img src="{line.icon}" alt="" width="16" height="16" loading="lazy">'
                if line.icon
                else ""
            )
            error = (
                f'      <span class="error-mark" title="{escape(line.last_error)}" role="img"'
                f' aria-label="{problem}">⚠</span>\n'
                if line.last_error
                else ""
            )
            count = f'      <span class="count">{line.unread}</span>\n' if line.unread else ""
            out.append(
                f'    <li class="{classes}">\n'
                f'      <a href="{line.url}?view=normal" class="open-in-panel">{icon}'
                f"{escape(line.title)}</a>\n{error}{count}    </li>\n"
            )
        out.append("  </ul>\n</section>\n")
    # Safe: text went through `escape`; the rest are numbers and addresses made by `reverse`.
    return mark_safe("".join(out))


# --- the entries ---------------------------------------------------------------------------------


@dataclass
class Shown:
    """An entry as the page shows it, with the day separator that comes before it, if any."""

    state: EntryState
    day: str = ""  # "today" | "yesterday" | "before" on the first entry of its day group
    label_ids: set[int] = field(default_factory=set)
    read_url: str = ""
    star_url: str = ""
    labels_url: str = ""
    feed_url: str = ""
    icon: str = ""
    feed_title: str = ""  # the person's title for the feed (Subscription.display_title)


def long_datetime_format() -> str:
    """How every page writes an entry's date and time: 'January 15, 2024 at 02:09'."""
    # Translators: a Django date format (https://docs.djangoproject.com/en/5.2/ref/templates/builtins/#date); backslash-escape letters meant literally.
    return pgettext("long date and time", "F j, Y \\a\\t H:i")


def long_datetime(value: datetime | None) -> str:
    """A date and time in the reader's words, in the active time zone ('' for none); not
    escaped (the templates' filter `long_datetime`, whose output Django escapes)."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return dateformat.format(local, long_datetime_format())


class Dates:
    """An entry's date in the reader's words and in ISO 8601, in the active time zone.

    Formatting a date in words goes through the translated format and Django's formatter;
    entries of a page share their minute often enough (and the ISO form is cheap), so each
    distinct local minute is formatted once per page."""

    def __init__(self) -> None:
        self.fmt = long_datetime_format()
        self.words: dict[tuple[int, int, int, int, int], str] = {}

    def of(self, value: datetime | None) -> tuple[str, str]:
        """(ISO form, words): ISO 8601 for `datetime=`, the translated long format to read."""
        if value is None:
            return "", ""
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        key = (local.year, local.month, local.day, local.hour, local.minute)
        words = self.words.get(key)
        if words is None:
            words = self.words[key] = escape(dateformat.format(local, self.fmt))
        return local.isoformat(), words


def long_date(value: date) -> str:
    """'20 janvier 2024' / 'January 20, 2024'."""
    # Translators: a Django date format; see "long date and time".
    return dateformat.format(value, pgettext("long date", "F j, Y"))


# At most this many of an entry's tags are shown: some feeds list dozens.
MAX_TAGS_SHOWN = 12


def _tag_links(categories: object, search_url: str) -> str:
    """The entry's tags as links to the search page ("#tag" in FreshRSS's syntax, quoted so
    that spaces and signs stay part of it), escaped."""
    if not isinstance(categories, list):
        return ""
    links = []
    for tag in categories[:MAX_TAGS_SHOWN]:
        if not isinstance(tag, str) or not tag.strip():
            continue
        query = quote(f'#"{tag.replace(chr(34), "")}"', safe="")
        links.append(f'<li><a href="{search_url}?q={query}">#{escape(tag)}</a></li>')
    return "".join(links)


def entry_articles(
    shown: Sequence[Shown],
    *,
    view: str,
    gone_when_read: bool,
    gone_when_unstarred: bool,
    next_path: str,
    csrf_token: str,
    labels: Sequence[Label],
    stream_title: str,
    today: date,
    yesterday: date,
) -> SafeString:
    """The entries of a page with their day separators, actions and label menus.

    Without JavaScript each action reloads the page at an anchor: the entry's title, inside
    its fold, which browsers open when the address points inside it (the reader finds the
    entry as they left it), or, when the action takes the entry out of the list (marked read
    in a list of unread ones: `gone_when_read`; unstarred among favourites:
    `gone_when_unstarred`), the entry after it: the reader's place, where an anchor to an
    entry no longer there led to the top of the page.
    """
    t_unread = escape(gettext("Mark as unread"))
    t_read = escape(gettext("Mark as read"))
    t_unstar = escape(gettext("Remove from favourites"))
    t_star = escape(gettext("Add to favourites"))
    t_original = escape(gettext("See on original website"))
    t_labels = escape(gettext("My labels"))
    t_new_label = escape(gettext("New label"))
    t_save_labels = escape(gettext("Save labels"))
    by = escape(gettext("By: %(author)s"))
    # gettext outside the f-strings: xgettext (makemessages) does not look inside them.
    t_today, t_yesterday = escape(gettext("Today")), escape(gettext("Yesterday"))
    t_before = escape(gettext("Before yesterday"))
    name = escape(stream_title)
    days = {
        "today": f'<h2 class="day">{t_today}<span class="date"> — '
        f'{escape(long_date(today))}</span> <span class="name">{name}</span></h2>\n',
        "yesterday": f'<h2 class="day">{t_yesterday}<span class="date"> — '
        f'{escape(long_date(yesterday))}</span> <span class="name">{name}</span></h2>\n',
        "before": f'<h2 class="day">{t_before} <span class="name">{name}</span></h2>\n',
    }
    csrf = f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
    back = escape(next_path)
    reader = view == "reader"
    # Under the day headings (h2) in the normal view; right under the page's h1 in the reader
    # view, which has none.
    level = "h2" if reader else "h3"
    label_choices = [(label.id, escape(label.name)) for label in labels]
    # An entry's own tags (the feed's categories) lead to a search of them, as FreshRSS's do.
    search_url = escape(reverse("ui:search"))
    t_tags = escape(gettext("Tags"))
    dates = Dates()
    out: list[str] = []
    ids = [item.state.entry.id for item in shown]
    for index, item in enumerate(shown):
        entry_state = item.state
        entry = entry_state.entry
        eid = entry.id
        read, starred = entry_state.is_read, entry_state.is_starred
        url = escape(entry.url)
        shown_title = escape(entry.display_title)
        author = escape(entry.author)
        iso, words = dates.of(entry.published)
        feed_name = escape(item.feed_title or entry_state.feed)
        # The feed's own words in the feed's language (screen readers, hyphenation); the page's
        # around them stay in the reader's. A sanitized tag: letters, digits and hyphens.
        language = entry_state.feed.language
        lang = f' lang="{escape(language)}"' if language else ""
        if item.day:
            out.append(days[item.day])
        classes = "entry"
        if not read:
            classes += " unread"
        if starred:
            classes += " starred"
        if reader:
            opening = '  <div class="entry-open">\n'
            feed_link = f'<p class="feed-name"><a href="{item.feed_url}">{feed_name}</a></p>'
            closing = "  </div>\n"
        else:
            icon = (
                f'<img src="{item.icon}" alt="" width="16" height="16" loading="lazy">'
                if item.icon
                else ""
            )
            line_author = f'<span class="line-author">{author}</span>' if author else ""
            opening = (
                '  <details class="entry-fold">\n  <summary class="entry-line">\n'
                f'    <span class="feed">{icon}{feed_name}</span>\n'
                f'    <span class="line-title"{lang}>{shown_title}</span>\n'
                f"    {line_author}\n"
                f'    <time class="line-date" datetime="{iso}">{words}</time>\n'
                "  </summary>\n"
            )
            feed_link = ""
            closing = "  </details>\n"
        heading = (
            f'<a href="{url}" rel="noopener noreferrer" target="_blank" class="original">'
            f"{shown_title}</a>"
            if url
            else shown_title
        )
        by_line = f'<div class="author">{by % {"author": author}}</div>' if author else ""
        original = (
            f'<a href="{url}" rel="noopener noreferrer" target="_blank">{t_original}</a>'
            if url
            else ""
        )
        tags = _tag_links(entry.categories, search_url)
        if tags:
            tags = f'<ul class="tags" aria-label="{t_tags}">{tags}</ul>'
        ticks = "".join(
            f'<label><input type="checkbox" name="label" value="{label_id}"'
            f"{' checked' if label_id in item.label_ids else ''}> {label_name}</label>"
            for label_id, label_name in label_choices
        )
        # Stored HTML, sanitized before it was stored (pipeline.sanitize), written as it is;
        # its attachments' HTML is made of escaped values (feeds.attachments).
        content = proxify_html(entry.display_content)
        here = f"{back}#t{eid}"
        neighbours = ids[index + 1 : index + 2] or ids[max(0, index - 1) : index]
        after = f"{back}#e{neighbours[0]}" if neighbours else back
        read_next = after if gone_when_read and not read else here
        star_next = after if gone_when_unstarred and starred else here
        read_label = t_unread if read else t_read
        star_label = t_unstar if starred else t_star
        out.append(
            f'<article class="{classes}" id="e{eid}" data-entry="{eid}" data-feed="{entry_state.feed_id}"'
            f' data-url="{url}" tabindex="-1" aria-labelledby="t{eid}">\n'
            '  <div class="entry-actions">\n'
            f'    <form method="post" action="{item.read_url}" class="toggle" data-toggle="read">'
            f"{csrf}\n"
            f'      <input type="hidden" name="next" value="{read_next}">\n'
            f'      <input type="hidden" name="read" value="{0 if read else 1}">\n'
            f'      <button type="submit" class="icon read-toggle" data-label-on="{t_unread}"'
            f' data-label-off="{t_read}" title="{read_label}"><span class="vh">{read_label}'
            "</span></button>\n    </form>\n"
            f'    <form method="post" action="{item.star_url}" class="toggle"'
            f' data-toggle="starred">{csrf}\n'
            f'      <input type="hidden" name="next" value="{star_next}">\n'
            f'      <input type="hidden" name="starred" value="{0 if starred else 1}">\n'
            f'      <button type="submit" class="icon star-toggle" data-label-on="{t_unstar}"'
            f' data-label-off="{t_star}" title="{star_label}"><span class="vh">{star_label}'
            "</span></button>\n    </form>\n  </div>\n"
            f"{opening}"
            '  <div class="entry-body">\n    <header>\n'
            f"      {feed_link}\n"
            f'      <{level} class="title" id="t{eid}"{lang}>{heading}</{level}>\n'
            f"      {by_line}\n"
            f'      <div class="date"><time datetime="{iso}">{words}</time></div>\n'
            "    </header>\n"
            f'    <div class="content"{lang}>{content}</div>\n'
            '    <footer class="entry-foot">\n'
            f"      {original}\n"
            f"      {tags}\n"
            '      <details class="labels-menu">\n'
            f"        <summary>{t_labels}</summary>\n"
            f'        <form method="post" action="{item.labels_url}">{csrf}\n'
            f'          <input type="hidden" name="next" value="{here}">\n'
            f"          {ticks}\n"
            f'          <label>{t_new_label} <input type="text" name="new_label"'
            ' maxlength="255"></label>\n'
            f'          <button type="submit">{t_save_labels}</button>\n'
            "        </form>\n      </details>\n    </footer>\n  </div>\n"
            f"{closing}</article>\n"
        )
    # Safe: text went through `escape`, the content was sanitized before it was stored, the
    # rest are numbers, the CSRF token and addresses made by `reverse`.
    return mark_safe("".join(out))
