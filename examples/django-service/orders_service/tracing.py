"""Logs the trace id of each request's W3C traceparent (set by strangler-proxy when
tracing is on), so a trace id found in the proxy's log leads to this app's line."""
import logging
import re

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
log = logging.getLogger("orders_service.trace")


def trace_log(get_response):
    def middleware(request):
        match = TRACEPARENT.match(request.META.get("HTTP_TRACEPARENT", ""))
        if match:
            log.info('{"app": "django", "method": "%s", "path": "%s", "traceId": "%s"}', request.method, request.path, match.group(1))
        return get_response(request)
    return middleware
