"""Examples of the accounts API's requests and answers, shown in /api/docs and sent by schemathesis' examples phase."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

ACCESS = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl"
REFRESH = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
KEY_ID = "5e8a1b2c-3d4e-4f60-8a9b-0c1d2e3f4a5b"

PROFILE = {
    "id": "2d7c9e1a-4b3f-4c5d-9e8f-7a6b5c4d3e2f",
    "email": "ada@example.com",
    "name": "Ada",
    "tier": "free",
    "date_joined": "2026-11-30T09:00:00Z",
    "image_count": 12,
    "webhook_secret": "whsec_c2VjcmV0LW9mLWFkYQ",
    "quota": {"daily_limit": 50, "used_today": 4, "remaining": 46, "resets_at": "2026-12-01T00:00:00Z"},
}
TOKENS = {"access": ACCESS, "refresh": REFRESH}


def answer(value: object, *, status: str = "200") -> OpenApiExample:
    return OpenApiExample("Answer", value=value, response_only=True, status_codes=[status])


def request(value: object) -> OpenApiExample:
    return OpenApiExample("Request", value=value, request_only=True)


SIGNUP = [
    request({"email": "ada@example.com", "password": "quartz-meadow-lantern-5150", "name": "Ada"}),
    answer({"user": {**PROFILE, "image_count": 0}, **TOKENS}, status="201"),
]
SIGN_IN = [request({"email": "ada@example.com", "password": "quartz-meadow-lantern-5150"}), answer(TOKENS)]
REFRESH_TOKENS = [request({"refresh": REFRESH}), answer(TOKENS)]
VERIFY = [request({"token": ACCESS}), answer({"token_type": "access", "expires_at": "2026-11-30T09:15:00Z"})]
LOGOUT = [request({"refresh": REFRESH})]
ME = [answer(PROFILE)]
ME_UPDATE = [request({"name": "Ada Lovelace"}), answer({**PROFILE, "name": "Ada Lovelace"})]
PASSWORD = [
    request({"current_password": "quartz-meadow-lantern-5150", "new_password": "harbour-violet-engine-7731"}),
    answer(
        {
            "message": "Password changed; every other session ended and 2 API keys were revoked.",
            "api_keys_revoked": 2,
            "api_keys_kept": 0,
        }
    ),
]
WEBHOOK_SECRET = [
    answer({"webhook_secret": "whsec_bmV3LXNlY3JldA", "previous_secret_expires_at": "2026-12-01T09:00:00Z"})
]
API_KEYS = [
    answer(
        {
            "id": KEY_ID,
            "name": "CI",
            "prefix": "igk_3WFod495",
            "created_at": "2026-11-30T09:00:00Z",
            "last_used_at": None,
        }
    )
]
API_KEY_CREATE = [
    request({"name": "CI"}),
    answer(
        {
            "id": KEY_ID,
            "name": "CI",
            "prefix": "igk_3WFod495",
            "key": "igk_3WFod4950VjVGCVpAJWdpI3DXi6Ap71I4SazqcPueaI",
            "created_at": "2026-11-30T09:00:00Z",
        },
        status="201",
    ),
]
