"""
The minute's work (`ads_tick`) inside the web process, for the embedded
default only: without Redis the counts live in this process's memory, and
`make run` has no scheduler. With Redis a scheduler runs `manage.py ads_tick`
every minute instead (see the README) and this stays off.
"""

import logging
import threading
import time

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

_started = threading.Event()


def _loop() -> None:
    from ads.services import tick

    while True:
        try:
            tick()
        except Exception:  # The loop must outlive one bad minute; it is logged.
            logger.exception("The ads tick failed")
        finally:
            connection.close()
        time.sleep(60)


def ensure_local_ticker() -> None:
    if _started.is_set() or not settings.ADS_LOCAL_TICKER:
        return
    _started.set()
    threading.Thread(target=_loop, daemon=True, name="ads-tick").start()
