"""The session cookie shared with the legacy app: base64url(JSON) "." hex HMAC-SHA256."""
import base64
import hashlib
import hmac
import json

from django.conf import settings


def read_session(request):
    raw = request.COOKIES.get("session")
    if not raw or "." not in raw:
        return None
    payload, mac = raw.rsplit(".", 1)
    want = hmac.new(settings.SESSION_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, mac):
        return None
    try:
        padded = payload + "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError):
        return None
