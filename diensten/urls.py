"""The OpenID Connect provider's endpoints, in django-oauth-toolkit's namespace (it reverses its own
names). Discovery sits at the issuer's root (OpenID Connect Discovery 1.0 §4), the rest under /o/.
Only what the code flow needs: no device flow, no client registration, no application management."""

from django.urls import path, re_path
from oauth2_provider import views as oauth2_views

from . import views

app_name = "oauth2_provider"

urlpatterns = [
    re_path(
        r"^\.well-known/openid-configuration$",
        oauth2_views.ConnectDiscoveryInfoView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path("o/authorize/", views.DienstAuthorizationView.as_view(), name="authorize"),
    path("o/token/", views.DienstTokenView.as_view(), name="token"),
    path("o/revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("o/introspect/", views.DienstIntrospectionView.as_view(), name="introspect"),
    path("o/jwks/", oauth2_views.JwksInfoView.as_view(), name="jwks-info"),
    path("o/userinfo/", views.DienstUserInfoView.as_view(), name="user-info"),
    path("o/logout/", views.DienstLogoutView.as_view(), name="rp-initiated-logout"),
]
