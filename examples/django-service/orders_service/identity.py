"""The user legacy signed in, as strangler-proxy's identity bridge hands it on: a
short-lived JWT in X-Strangler-Identity, verified against the proxy's JWKS with PyJWT
(Debian's python3-jwt). Enabled by STRANGLER_JWKS_URL; then a request whose token is
forged, expired or for another audience is refused, and request.identity holds the
verified claims (None when the proxy sent no token: nobody is signed in)."""
import logging

from django.conf import settings
from django.http import JsonResponse

log = logging.getLogger("orders_service.identity")
_jwks = None


def _client():
    import jwt  # only with the bridge on: the demo without it needs no PyJWT
    global _jwks
    if _jwks is None:
        # Caches the keys; asks the proxy again when a token names an unknown kid.
        _jwks = jwt.PyJWKClient(settings.STRANGLER_JWKS_URL, cache_keys=True)
    return _jwks


def verify(token):
    import jwt
    key = _client().get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA", "RS256"],
        audience=settings.STRANGLER_AUDIENCE,
        issuer=settings.STRANGLER_ISSUER,
        options={"require": ["exp", "iat", "sub", "aud", "iss"]},
    )


def _django_user(claims):
    """The bridged user as a Django user (for the admin): created on first sight with no
    usable password, so the proxy's token is the only way in; staff per STRANGLER_STAFF."""
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(username=claims["sub"])
    staff = claims["sub"] in settings.STRANGLER_STAFF
    if created or user.is_staff != staff:
        if created:
            user.set_unusable_password()
        user.is_staff = user.is_superuser = staff
        user.save()
    return user


def identity(get_response):
    def middleware(request):
        request.identity = None
        if not settings.STRANGLER_JWKS_URL:
            return get_response(request)
        import jwt
        token = request.headers.get("X-Strangler-Identity")
        if token:
            try:
                request.identity = verify(token)
            except jwt.PyJWTError as err:
                log.warning("identity token refused: %s", err)
                return JsonResponse({"error": "invalid identity token", "detail": str(err)}, status=401)
            if settings.ADMIN:
                request.user = _django_user(request.identity)
        return get_response(request)

    return middleware
