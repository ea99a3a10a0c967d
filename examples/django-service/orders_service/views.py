"""The capabilities migrated from the legacy app, with the same contract."""
import itertools
import json

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .declared import allow
from .session import read_session

SERVED_BY = "django"
SKUS = ["A-100", "B-200", "C-300", "D-400"]
STATUSES = ["new", "paid", "shipped", "delivered"]
_next_id = itertools.count(1000)


def order(order_id, customer):
    """Derived from the id exactly as the legacy app does, so both answer alike."""
    n = int(order_id)
    return {
        "id": n,
        "sku": SKUS[n % len(SKUS)],
        "qty": n % 5 + 1,
        "status": STATUSES[n % len(STATUSES)],
        "total": "%.2f" % ((n % 5 + 1) * 12.5),
        "customer": customer,
    }


def _json(data, status=200):
    response = JsonResponse(data, status=status)
    response["X-Served-By"] = SERVED_BY
    return response


def _session(request):
    """The bridged identity when the proxy sends one, else the shared cookie (the demo without the bridge)."""
    if settings.STRANGLER_JWKS_URL:
        claims = request.identity
        return {"user": claims["sub"], "tenant": claims.get("tenant")} if claims else None
    return read_session(request)


def _user(request):
    session = _session(request)
    return session.get("user") if session else None


@allow("GET")
def healthz(request):
    return _json({"status": "ok"})


@allow("GET")
def me(request):
    session = _session(request)
    if not session:
        return _json({"error": "login required"}, status=401)
    return _json({"user": session.get("user"), "tenant": session.get("tenant")})


@csrf_exempt
@allow("GET", "POST")
def orders(request):
    user = _user(request)
    if request.method == "POST":
        if not user:
            return _json({"error": "login required"}, status=401)
        body = json.loads(request.body or b"{}")
        created = order(next(_next_id), user)
        created.update({"sku": body.get("sku", "A-100"), "qty": int(body.get("qty", 1)), "status": "new"})
        return _json(created, status=201)
    return _json({"orders": [order(i, user) for i in (1, 2, 3)]})


@allow("GET")
def order_detail(request, order_id):
    return _json(order(order_id, _user(request)))


@allow("GET")
def reports(request, rest=""):
    user = _user(request)
    signed = "Signed in as %s" % user if user else "Not signed in"
    html = "<!doctype html><title>Reports (django)</title><h1>Reports</h1><p>%s</p>" % signed
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["X-Served-By"] = SERVED_BY
    return response
