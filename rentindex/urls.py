from django.urls import path

from rentindex import views

app_name = "rentindex"

urlpatterns = [
    path("", views.rent_index, name="index"),
    path("rent-index.csv", views.rent_index_csv, name="csv"),
]
