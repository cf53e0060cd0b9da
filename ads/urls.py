from django.urls import path

from ads import views

app_name = "ads"

# Pages people use (advertisers, owners) avoid the words ad blockers block, so
# they work with a blocker on; only the ads' own endpoints live under /go/.
urlpatterns = [
    path("go/seen", views.seen, name="seen"),
    path("go/<str:token>", views.click, name="click"),
    path("business/", views.business_home, name="home"),
    path("business/join/", views.join, name="join"),
    path("business/policy/", views.policy, name="policy"),
    path("business/balance/", views.balance, name="balance"),
    path("business/receipts/<int:pk>/", views.receipt, name="receipt"),
    path("business/campaigns/new/", views.campaign_create, name="create"),
    path("business/campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("business/campaigns/<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("business/campaigns/<int:pk>/creatives/", views.creatives, name="creatives"),
    path(
        "business/campaigns/<int:pk>/creatives/<int:creative_pk>/delete/",
        views.creative_delete,
        name="creative_delete",
    ),
    path("business/campaigns/<int:pk>/numbers.csv", views.campaign_csv, name="csv"),
    path(
        "business/campaigns/<int:pk>/<slug:action>/",
        views.campaign_action,
        name="action",
    ),
    path("promote/<int:listing_pk>/", views.boost, name="boost"),
]
