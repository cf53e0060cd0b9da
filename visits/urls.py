from django.urls import path

from visits import views

app_name = "visits"

urlpatterns = [
    path("", views.visit_list, name="list"),
    path("schedule/", views.visit_schedule, name="schedule"),
    path("book/<int:listing_pk>/", views.visit_book, name="book"),
    path(
        "listing/<int:listing_pk>/hours/",
        views.availability_edit,
        name="availability",
    ),
    path("<int:pk>/", views.visit_detail, name="detail"),
    path("<int:pk>/confirm/", views.visit_confirm, name="confirm"),
    path("<int:pk>/decline/", views.visit_decline, name="decline"),
    path("<int:pk>/propose/", views.visit_propose, name="propose"),
    path("<int:pk>/accept/", views.visit_accept, name="accept"),
    path("<int:pk>/reject/", views.visit_reject, name="reject"),
    path("<int:pk>/cancel/", views.visit_cancel, name="cancel"),
    path("<int:pk>/outcome/", views.visit_outcome, name="outcome"),
    path("<int:pk>/feedback/", views.visit_feedback, name="feedback"),
    path("<int:pk>/visit.ics", views.visit_ics, name="ics"),
]
