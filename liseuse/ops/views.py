"""`/healthz` for load balancers and `/metrics` for Prometheus.

Both read the database, not the process: any web node answers for the whole instance (the refresh
runs in other processes, maybe on other machines), so a scrape of any node gives the same figures.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from liseuse.accounts.throttle import client_address
from liseuse.ops import metrics as metrics_module

log = logging.getLogger("liseuse.ops")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure is what this check is for
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def _allowed(request: HttpRequest) -> bool:
    token = getattr(settings, "LISEUSE_METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    for allowed in getattr(settings, "LISEUSE_METRICS_ALLOW", ["127.0.0.0/8", "::1"]):
        try:
            if address in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue  # settings refuse a malformed entry at start (lib.env.env_networks)
    return False


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse(
            "metrics are served to the addresses of LISEUSE_METRICS_ALLOW, or with "
            "LISEUSE_METRICS_TOKEN as a Bearer token\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    body, content_type = metrics_module.render()
    return HttpResponse(body, content_type=content_type)
