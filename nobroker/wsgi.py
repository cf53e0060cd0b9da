import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nobroker.settings")
# A page's SQL statement stops after 15 s (see settings.py).
os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "15000")

application = get_wsgi_application()
