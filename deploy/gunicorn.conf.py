"""
gunicorn for the page processes (deploy/README.md): the WSGI app, one request at
a time per worker, WEB_CONCURRENCY workers. `kill -HUP` (systemctl reload)
starts new workers on the new code and lets the old ones finish their requests.
https://docs.gunicorn.org/en/stable/settings.html
"""

import os

wsgi_app = "nobroker.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001").split(",")
# Twice the cores unless told: a worker waiting on the database leaves its
# core to another (bench/README.md, "What the layout table shows").
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))
# Sync workers: one request at a time, no thread switching; measured faster
# for pages than daphne at the same core count (bench/README.md, "Layout").
worker_class = "sync"
# A request still running when a restart begins has this long to finish.
graceful_timeout = 30
timeout = 30
# Workers are replaced now and then, so slow growth of memory cannot pile up.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = 2000
# nginx on this machine is the only proxy whose X-Forwarded-* headers count.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# A sync worker holds at most one database connection at a time.
os.environ.setdefault("DATABASE_POOL_MIN", "1")
os.environ.setdefault("DATABASE_POOL_MAX", "2")
