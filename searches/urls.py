from django.urls import path

from searches import views

app_name = "searches"

urlpatterns = [
    path("", views.saved_search_list, name="list"),
    path("new/", views.saved_search_create, name="create"),
    path("<int:pk>/edit/", views.saved_search_edit, name="edit"),
    path("<int:pk>/delete/", views.saved_search_delete, name="delete"),
    path("stop/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
