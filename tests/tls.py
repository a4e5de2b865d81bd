"""HTTPS on 127.0.0.1 for tests whose far end must be reached over TLS (WebSub hubs: liseuse
sends its secret to none other), with a throw-away certificate the fetcher is made to trust."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp.connector
import pytest

from tests.pipeline.test_fetch import SELF_SIGNED


def trusted_tls(
    monkeypatch: pytest.MonkeyPatch, folder: Path, *, check_hostname: bool = True
) -> ssl.SSLContext:
    """A server-side context with the test certificate (for 127.0.0.1 and localhost), trusted
    by every fetcher until the test ends; without `check_hostname`, under any name (a name a
    fake DNS gives). The fetcher has no setting for a certificate authority, and aiohttp takes
    its verifying context from this module variable on each connection."""
    pem = folder / "test-server.pem"
    pem.write_text(SELF_SIGNED)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pem)
    client = ssl.create_default_context(cafile=str(pem))
    client.check_hostname = check_hostname
    monkeypatch.setattr(aiohttp.connector, "_SSL_CONTEXT_VERIFIED", client)
    return server
