from django.urls import path

from . import views

app_name = "dev_broker"
urlpatterns = [
    path("metadata/", views.metadata, name="metadata"),
    path("sso/", views.sso, name="sso"),
    path("inloggen/", views.login, name="login"),
    path("annuleren/", views.cancel, name="cancel"),
    path("slo/", views.slo, name="slo"),
    path("ars/", views.ars, name="ars"),
]
