"""The security headers that every response carries, errors and static files included."""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "ambient-light-sensor",
        "autoplay",
        "battery",
        "bluetooth",
        "camera",
        "clipboard-read",
        "clipboard-write",
        "display-capture",
        "document-domain",
        "encrypted-media",
        "fullscreen",
        "gamepad",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "interest-cohort",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "speaker-selection",
        "sync-xhr",
        "usb",
        "web-share",
        "xr-spatial-tracking",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Permissions-Policy": PERMISSIONS_POLICY,
}
# Headers that would reveal file times or fingerprint the server.
_DROPPED = ("ETag", "Last-Modified", "Server", "X-Powered-By")


def secure_response(response: Response) -> Response:
    """Set the security headers and drop identifying ones."""
    for name in _DROPPED:
        response.headers.pop(name, None)
    response.headers.update(SECURITY_HEADERS)
    return response


def install(app: Flask) -> None:
    """Apply secure_response to every response, and never answer conditional requests."""
    app.after_request(secure_response)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 0
    app.config["USE_X_SENDFILE"] = False
