from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="saml2_login"),
    path("acs/", views.AssertionConsumerServiceView.as_view(), name="saml2_acs"),
    path("metadata/", views.MetadataView.as_view(), name="saml2_metadata"),
    path("ls/", views.LogoutServiceView.as_view(), name="saml2_ls"),
    path("ls/post/", views.LogoutServiceView.as_view(), name="saml2_ls_post"),
]
