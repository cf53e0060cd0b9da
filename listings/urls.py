from django.urls import path

from listings import views

app_name = "listings"

urlpatterns = [
    path("", views.search, name="search"),
    path("mine/", views.my_listings, name="mine"),
    path("mine/new/", views.listing_create, name="create"),
    path("mine/<int:pk>/edit/", views.listing_edit, name="edit"),
    path("mine/<int:pk>/photos/", views.listing_photos, name="photos"),
    path(
        "mine/<int:pk>/photos/<int:photo_pk>/<slug:action>/",
        views.photo_action,
        name="photo_action",
    ),
    path("mine/<int:pk>/delete/", views.listing_delete, name="delete"),
    path("mine/<int:pk>/performance/", views.listing_performance, name="performance"),
    path("mine/<int:pk>/<slug:action>/", views.listing_action, name="action"),
    path("shortlist/", views.shortlist, name="shortlist"),
    path("shortlist/<int:pk>/", views.shortlist_toggle, name="shortlist_toggle"),
    path("report/<int:pk>/", views.listing_report, name="report"),
    path("<int:pk>/<slug:slug>/", views.listing_detail, name="detail"),
    path("<int:pk>/", views.listing_detail, name="detail_noslug"),
]
