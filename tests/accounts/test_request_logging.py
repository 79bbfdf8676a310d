"""Oversized and malformed requests are one WARNING line in the log, with the request id (issue 13 §5).

Anyone can send them at will: as an ERROR with a traceback each would fill the log and page whoever
watches for errors. A real server error stays an ERROR with its traceback. The log read here is the
output of the handler the LOGGING setting configures, as it reaches the container's stdout.
"""

import io
import logging

import pytest
from django.test import Client
from django.urls import path

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("something broke inside")


urlpatterns = [path("boom/", boom)]


@pytest.fixture
def log():
    """What the configured console handler writes, during the test."""
    handler = next(handler for handler in logging.getLogger().handlers if handler.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def problem_lines(log: io.StringIO) -> list[str]:
    return [line for line in log.getvalue().splitlines() if " WARNING " in line or " ERROR " in line]


def assert_one_warning_line(log: io.StringIO, response, *, logger: str) -> str:
    text = log.getvalue()
    lines = problem_lines(log)
    assert len(lines) == 1, text
    line = lines[0]
    assert " WARNING " in line and f" {logger}" in line, text
    assert f"[{response['X-Request-ID']}]" in line, text
    assert "Traceback" not in text and 'File "' not in text, text
    return line


def test_more_fields_than_allowed_is_a_400_and_one_warning_line(client, log, settings):
    fields = {f"field{number}": "x" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = client.post("/admin/login/", fields)
    assert response.status_code == 400
    line = assert_one_warning_line(log, response, logger="django.security.TooManyFieldsSent")
    assert "POST /admin/login/" in line


def test_an_oversized_body_is_a_413_and_one_warning_line(client, log, settings):
    body = "a=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post("/admin/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert_one_warning_line(log, response, logger="django.security.RequestDataTooBig")


def test_too_many_files_is_a_400_and_one_warning_line(client, log, settings):
    files = {f"file{number}": io.BytesIO(b"x") for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)}
    for number, upload in enumerate(files.values()):
        upload.name = f"{number}.txt"
    response = client.post("/admin/login/", files)
    assert response.status_code == 400
    assert_one_warning_line(log, response, logger="django.security.TooManyFilesSent")


def test_a_host_header_not_ours_is_a_400_and_one_warning_line(client, log):
    response = client.get("/%0AINJECTED%20ERROR%20path", HTTP_HOST="evil.example\nINJECTED ERROR host")
    assert response.status_code == 400
    line = assert_one_warning_line(log, response, logger="django.security.DisallowedHost")
    assert "evil.example" in line and "GET /\\nINJECTED ERROR path" in line
    assert not any(line.startswith("INJECTED") for line in log.getvalue().splitlines())


def test_a_malformed_multipart_body_is_a_400_and_one_warning_line(client, log):
    response = client.post(
        "/admin/login/",
        b"--x\r\nContent-Disposition: form-data\r\n\r\nbroken",
        content_type="multipart/form-data; boundary=\x00\x01",
    )
    assert response.status_code == 400
    line = assert_one_warning_line(log, response, logger="django.request")
    assert "MultiPartParserError" in line


@pytest.mark.urls(__name__)
def test_a_real_server_error_stays_an_error_with_its_traceback(log):
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    text = log.getvalue()
    lines = problem_lines(log)
    assert len(lines) == 1 and " ERROR django.request " in lines[0], text
    assert f"[{response['X-Request-ID']}]" in lines[0], text
    assert "Traceback" in text and "something broke inside" in text


def test_a_page_that_is_not_found_keeps_its_warning_and_gets_the_request_id(client, log):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_one_warning_line(log, response, logger="django.request")
