from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("unread/", views.unread, name="unread"),
    path("start/<int:listing_pk>/", views.conversation_start, name="start"),
    path("<int:pk>/", views.conversation_detail, name="detail"),
    path("<int:pk>/since/<int:last_id>/", views.messages_since, name="since"),
    path("<int:pk>/before/<int:before_id>/", views.messages_before, name="before"),
    path("<int:pk>/block/", views.block, name="block"),
    path("<int:pk>/unblock/", views.unblock, name="unblock"),
    path("<int:pk>/report/", views.report, name="report"),
]
