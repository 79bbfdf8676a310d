from django.urls import path

from . import review_views, views

app_name = "beheer"
urlpatterns = [
    path("", views.gebruikers, name="gebruikers"),
    path("brieven/", views.brieven, name="brieven"),
    path("gebruikersbestand/", views.gebruikersbestand, name="gebruikersbestand"),
    path("toegangscontrole/", review_views.access_review, name="access_review"),
    path("toegangscontrole/<int:pk>/", review_views.access_review_detail, name="access_review_detail"),
    path("gebruikers/aanmelden/", views.gebruiker_aanmelden, name="gebruiker_aanmelden"),
    path("gebruikers/aanmelden/bestand/", views.gebruikers_upload, name="gebruikers_upload"),
    path(
        "gebruikers/aanmelden/bestand/voorbeeld/",
        views.gebruikers_upload_voorbeeld,
        name="gebruikers_upload_voorbeeld",
    ),
    path(
        "gebruikers/aanmelden/bestand/<uuid:upload_id>/",
        views.gebruikers_upload_detail,
        name="gebruikers_upload_detail",
    ),
    path(
        "gebruikers/aanmelden/bestand/<uuid:upload_id>/brieven/",
        views.gebruikers_upload_brieven,
        name="gebruikers_upload_brieven",
    ),
    path("selectie/", views.selectie, name="selectie"),
    path("gebruikers/<int:pk>/", views.gebruiker, name="gebruiker"),
    path("gebruikers/<int:pk>/wijzigen/", views.gebruiker_wijzigen, name="gebruiker_wijzigen"),
    path("gebruikers/<int:pk>/rollen/", views.rol_toekennen, name="rol_toekennen"),
    path(
        "gebruikers/<int:pk>/rollen/<int:toekenning_pk>/intrekken/", views.rol_intrekken, name="rol_intrekken"
    ),
    path("gebruikers/<int:pk>/activatiecode/", views.activatiecode_versturen, name="activatiecode_versturen"),
    path("gebruikers/<int:pk>/brief/", views.brief, name="brief"),
    path("gebruikers/<int:pk>/ontkoppelen/", views.koppeling_ongedaan_maken, name="koppeling_ongedaan_maken"),
    path("gebruikers/<int:pk>/verwijderen/", views.gebruiker_verwijderen, name="gebruiker_verwijderen"),
]
