"""The `reader` side of the refresh benchmark: lemon24's reader library on the same corpus.

reader is not a dependency of liseuse: it lives in its own virtualenv, bench/.venv-reader, made on
demand by `ensure_venv()` (reader 3.26 is its last release for Python 3.11; it needs sgmllib3k
beside feedparser 6.0.14). This file is both the module that makes that virtualenv and the script
run inside it, one process per step, so that each step's time and peak memory are its own:

    .venv-reader/bin/python bench/reader_side.py setup --db DB --opml FEEDS.opml
    .venv-reader/bin/python bench/reader_side.py refresh --db DB [--workers 4]
    .venv-reader/bin/python bench/reader_side.py search --db DB

Each prints one JSON line. `refresh` calls `update_feeds(workers=4, scheduled=False)`: without
scheduled=False reader skips the feeds that are not due yet, which would make the second pass
measure nothing. `search` turns reader's full-text search on and fills it (`enable_search()`,
`update_search()`): what liseuse's refresh does after its pass, and reader's does not (its search
is off by default). Only the standard library and reader are imported here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

VENV = Path(__file__).resolve().parent / ".venv-reader"
REQUIREMENTS = ("reader==3.26", "sgmllib3k", "feedparser==6.0.14")


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path = VENV, base_python: str | None = None) -> Path:
    """Make the reader virtualenv if it is missing; return its interpreter."""
    python = venv_python(venv)
    check = [str(python), "-c", "import reader, sgmllib; assert reader.__version__ == '3.26'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    # The interpreter of the venv we run in, not the venv itself: a venv made from a venv's
    # python would share nothing anyway, but base_prefix names the real one unambiguously.
    base = base_python or str(Path(sys.base_prefix) / "bin" / "python3")
    print(f"making {venv} with {', '.join(REQUIREMENTS)} …", file=sys.stderr)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *REQUIREMENTS,
        ],
        check=True,
    )
    subprocess.run(check, check=True)
    return python


def _peak_rss_kb() -> int:
    # VmHWM is this process's own high-water mark of resident memory.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _opml_urls(path: Path) -> list[str]:
    # Our own generated file: ElementTree is enough (no untrusted input here).
    root = ElementTree.parse(path).getroot()
    return [node.attrib["xmlUrl"] for node in root.iter("outline") if "xmlUrl" in node.attrib]


def setup(db: Path, opml: Path) -> dict[str, Any]:
    from reader import make_reader

    started = time.perf_counter()
    urls = _opml_urls(opml)
    reader = make_reader(str(db))
    for url in urls:
        reader.add_feed(url, exist_ok=True)
    reader.close()
    return {"feeds": len(urls), "seconds": round(time.perf_counter() - started, 3)}


def refresh(db: Path, workers: int) -> dict[str, Any]:
    from reader import make_reader

    reader = make_reader(str(db))
    started = time.perf_counter()
    reader.update_feeds(workers=workers, scheduled=False)
    seconds = time.perf_counter() - started
    feeds = reader.get_feed_counts()
    entries = reader.get_entry_counts()
    errors = [
        f"{feed.url}: {feed.last_exception.type_name}: {feed.last_exception.value_str}"
        for feed in reader.get_feeds(broken=True)
        if feed.last_exception is not None
    ]
    reader.close()
    return {
        "version": _reader_version(),
        "seconds_in_update_feeds": round(seconds, 3),
        "feeds": feeds.total,
        "broken_feeds": feeds.broken,
        "entries": entries.total,
        "errors": errors[:5],
        "peak_rss_kb": _peak_rss_kb(),
    }


def search(db: Path) -> dict[str, Any]:
    from reader import make_reader

    reader = make_reader(str(db))
    started = time.perf_counter()
    reader.enable_search()
    reader.update_search()
    seconds = time.perf_counter() - started
    # A word of the corpus's French text (bench/corpus.py): an index left empty shows as 0. One
    # result only: reader highlights each result it gives, which for all of them took minutes.
    found = len(list(reader.search_entries("bibliothèque", limit=1)))
    reader.close()
    return {
        "seconds_in_update_search": round(seconds, 3),
        "found": found,
        "peak_rss_kb": _peak_rss_kb(),
    }


def _reader_version() -> str:
    import reader

    return str(reader.__version__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    setup_command = commands.add_parser("setup", help="make the database and add every feed")
    setup_command.add_argument("--db", type=Path, required=True)
    setup_command.add_argument("--opml", type=Path, required=True)
    refresh_command = commands.add_parser("refresh", help="update every feed once")
    refresh_command.add_argument("--db", type=Path, required=True)
    refresh_command.add_argument("--workers", type=int, default=4)
    search_command = commands.add_parser("search", help="turn search on and index every entry")
    search_command.add_argument("--db", type=Path, required=True)
    commands.add_parser("ensure-venv", help="make bench/.venv-reader if missing")
    args = parser.parse_args(argv)
    if args.command == "setup":
        result = setup(args.db, args.opml)
    elif args.command == "refresh":
        result = refresh(args.db, args.workers)
    elif args.command == "search":
        result = search(args.db)
    else:
        result = {"python": str(ensure_venv())}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
