"""Settings for the demo's Django service. Orders are derived from their id (as in the
legacy app); the user comes from strangler-proxy's identity token (or, without the
bridge, the cookie shared with legacy). DJANGO_ADMIN=1 adds Django's admin, its auth
and a SQLite database (DJANGO_DB), with the bridged users signed in."""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
# The proxy passes the client's Host through by default.
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",")
ROOT_URLCONF = "orders_service.urls"
WSGI_APPLICATION = "orders_service.wsgi.application"
# Listed so manage.py finds the declared_routes command.
INSTALLED_APPS = ["orders_service"]
MIDDLEWARE = ["orders_service.tracing.trace_log", "orders_service.identity.identity"]
DATABASES = {}
TEMPLATES = []
USE_TZ = True
# Django's admin through the proxy (DJANGO_ADMIN=1): the bridged user is the Django user,
# staff when named in STRANGLER_STAFF. Needs `manage.py migrate` once.
ADMIN = os.environ.get("DJANGO_ADMIN") == "1"
STRANGLER_STAFF = [u for u in os.environ.get("STRANGLER_STAFF", "").split(",") if u]
if ADMIN:
    INSTALLED_APPS += [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
    ]
    MIDDLEWARE = [
        "orders_service.tracing.trace_log",
        "django.contrib.sessions.middleware.SessionMiddleware",
        # No CsrfViewMiddleware: the JSON API takes no cookies of its own, and the admin's
        # forms protect themselves (csrf_protect on each of its views).
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "orders_service.identity.identity",
    ]
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("DJANGO_DB", "/tmp/orders-service.sqlite3")}}
    DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
    TEMPLATES = [{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ]},
    }]
    STATIC_URL = "/static/"
# Shared with the legacy app: the cookie both apps sign and read.
SESSION_SECRET = os.environ.get("SESSION_SECRET", "strangler-demo-secret")
# strangler-proxy's identity bridge (docs/identity.md): with a JWKS URL, the user comes
# from the proxy's signed token instead, and legacy's cookie is not read at all.
STRANGLER_JWKS_URL = os.environ.get("STRANGLER_JWKS_URL", "")
STRANGLER_AUDIENCE = os.environ.get("STRANGLER_AUDIENCE", "django")
STRANGLER_ISSUER = os.environ.get("STRANGLER_ISSUER", "strangler-proxy")
# The proxy sets X-Forwarded-Proto from the client connection.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"orders_service.trace": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
