from django.urls import path

from . import views

app_name = "koppeling"
urlpatterns = [
    path("", views.start, name="start"),
    path("geen-code/", views.no_code, name="geen_code"),
    path("disclaimer/", views.disclaimer, name="disclaimer"),
    path("gebruikersvoorwaarden/", views.voorwaarden, name="voorwaarden"),
    path("koppel/", views.koppel, name="koppel"),
    path("gelukt/", views.gelukt, name="gelukt"),
]
