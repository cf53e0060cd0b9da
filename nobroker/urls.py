from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from nobroker import csp, i18n, metrics, views

admin.site.site_header = "No Broker Kathmandu staff"
admin.site.site_title = "No Broker Kathmandu staff"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("csp-report", csp.csp_report, name="csp_report"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("accounts/", include("accounts.urls")),
    path("rent/", include("listings.urls")),
    path("visits/", include("visits.urls")),
    path("messages/", include("messaging.urls")),
    # Numbers: the public rent index; the staff dashboard beside the admin.
    path("rent-index/", include("rentindex.urls")),
    path("staff/business/", include("business.urls")),
    path("searches/", include("searches.urls")),
    path("admin/", admin.site.urls),
    path("language/", i18n.language_set, name="set_language"),
]

if settings.SERVE_MEDIA:
    # Local media for the embedded default; on S3 the CDN serves it.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]

handler403 = "nobroker.views.permission_denied"
handler404 = "nobroker.views.page_not_found"
handler500 = "nobroker.views.server_error"
