"""The portal's URLs plus views that fail, for the error page tests (tests/accounts/test_error_pages.py)."""

from django.core.exceptions import BadRequest, PermissionDenied
from django.http import HttpResponseNotAllowed
from django.urls import path

from mijnduo.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


def boom(request):
    raise RuntimeError("a bug")


def refuse(request):
    raise PermissionDenied


def json_405(request):
    return HttpResponseNotAllowed(["POST"], content=b'{"error": "method"}', content_type="application/json")


def bad(request):
    raise BadRequest("bad")


urlpatterns = [
    path("test-boom/", boom),
    path("test-refuse/", refuse),
    path("test-bad/", bad),
    path("test-json-405/", json_405),
    *urlpatterns,
]
