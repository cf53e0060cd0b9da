from django.urls import path

from listings import views

app_name = "listings"

urlpatterns = [
    path("", views.search, name="search"),
    path("<int:pk>/<slug:slug>/", views.listing_detail, name="detail"),
    path("<int:pk>/", views.listing_detail, name="detail_noslug"),
]
