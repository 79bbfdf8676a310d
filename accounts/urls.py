from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("toegankelijkheid/", views.toegankelijkheid, name="toegankelijkheid"),
    path("gebruiksvoorwaarden/", views.gebruiksvoorwaarden, name="gebruiksvoorwaarden"),
    path("healthz", views.healthz, name="healthz"),
]
