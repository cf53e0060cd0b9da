from django.urls import path

from business import views

app_name = "business"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("<slug:table>.csv", views.table_csv, name="csv"),
]
