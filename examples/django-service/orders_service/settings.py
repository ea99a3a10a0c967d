"""Settings for the demo's Django service. No database: orders are derived from
their id (as in the legacy app) and the session is the shared signed cookie."""
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
