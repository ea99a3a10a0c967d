"""Which methods a view serves, enforced and declared in one place, so the
declared_routes command prints what the app really answers."""
from django.views.decorators.http import require_http_methods


def allow(*methods):
    def wrap(view):
        accepted = list(methods) + (["HEAD"] if "GET" in methods else [])
        checked = require_http_methods(accepted)(view)
        checked.declared_methods = tuple(methods)
        return checked
    return wrap
