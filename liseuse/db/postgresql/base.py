"""Django's PostgreSQL backend, its connection health check made without a query when it can.

With `CONN_HEALTH_CHECKS`, Django asks PostgreSQL `SELECT 1` before the first query of every
request that reuses a connection, so that a connection the server closed (a restart, an
administrator, an idle time-out) is opened again instead of failing the request with a 500.
That round trip cost 12 % of the kept reading pages' throughput (bench/scale_data.py).

Between requests a connection is idle: PostgreSQL sends nothing on it unless it is ending it
(its last message, then the close). So a socket with nothing to read is a connection still
open, known from one `select` with no wait; only when something arrived does Django's own
check run, and it decides.
"""

from __future__ import annotations

import select
from typing import Any

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's, which its type stubs leave out.
    health_check_enabled: bool
    health_check_done: bool
    pool: Any

    def close_if_health_check_failed(self) -> None:
        connection = self.connection
        if (
            connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and not connection.closed
            and _nothing_arrived(connection.fileno())
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()


def _nothing_arrived(fileno: int) -> bool:
    readable, _, _ = select.select([fileno], [], [], 0)
    return not readable
