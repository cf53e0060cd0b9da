import gc
import os

from nobroker.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nobroker.settings")
# A page's SQL statement stops after 15 s (see settings.py).
os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "15000")
# Django must be set up before the routing imports consumers and models. The
# handler is Django's, made safe for clients that hang up (nobroker.handlers).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from nobroker.origins import SiteOriginValidator  # noqa: E402
from nobroker.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SiteOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Everything loaded so far (Django, the project, the libraries) lives as long
# as the process: leave it out of the garbage collector's full passes, which
# otherwise walk it again and again while every event waits.
gc.freeze()
