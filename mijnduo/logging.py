"""Log filters of the console handler (settings.LOGGING)."""

import logging
import re

# Control characters (and the Unicode line separators) would let a client start a line of their own.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_REQUEST_LOGGERS = ("django.request", "django.security")


def one_line(text: str) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x00``…), so it stays one log line."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class ClientErrorFilter(logging.Filter):
    """Log a request refused with a 4xx as one WARNING line: no traceback, no line breaks.

    Django logs a SuspiciousOperation (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent,
    DisallowedHost, SuspiciousMultipartForm, …) as an ERROR with its traceback on
    ``django.security.<name>``, and a malformed body (MultiPartParserError), a BadRequest or a
    PermissionDenied as a warning with its traceback on ``django.request``. Anyone can send such a
    request at will, so each would put dozens of lines in the log and raise an error for whoever
    watches them. The cause is the client's, and the line keeps what tells it apart: the logger
    (its category), the exception's text, the method and path, and the request id.

    Only records that carry a 4xx ``status_code`` change: a request that ended in a 5xx (even one
    that began as a bad request) keeps its level and traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if not (isinstance(status, int) and 400 <= status < 500):
            return True
        if not record.name.startswith(_REQUEST_LOGGERS):
            return True
        message = record.getMessage()
        exception = record.exc_info[1] if record.exc_info else None
        if exception is not None and str(exception) not in message:
            message = f"{message} ({type(exception).__name__}: {exception})"
        request = getattr(record, "request", None)
        if record.name.startswith("django.security") and request is not None:
            message = f"{message} [{status} {request.method} {request.path}]"
        record.msg, record.args = one_line(message), ()
        record.exc_info = record.exc_text = record.stack_info = None
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True
