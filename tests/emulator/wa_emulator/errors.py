# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Error codes and the JSON envelope of the On-Premises client (reference section 1)."""

import os

# code -> (title, HTTP status), verbatim from the reference table.
CODES = {
    0: ("undefined", 500),
    1000: ("Generic error", 500),
    1001: ("Message too long", 400),
    1002: ("Invalid recipient type", 400),
    1003: ("Not a group participant", 400),
    1004: ("Resource already exists", 409),
    1005: ("Access denied", 403),
    1006: ("Resource not found", 404),
    1007: ("Recipient blocked to receive message", 403),
    1008: ("Required parameter is missing", 400),
    1009: ("Parameter value is not valid", 400),
    1010: ("Parameter is not required", 400),
    1011: ("Service not ready", 500),
    1012: ("Group is unknown", 404),
    1013: ("User is not valid", 400),
    1014: ("Internal error", 500),
    1015: ("Too many requests", 429),
    1016: ("System overloaded", 503),
    1017: ("Not a primary master", 500),
    1018: ("Not a primary coreapp", 500),
    1019: ("Not a group admin", 400),
    1020: ("Bad group", 400),
    1021: ("Bad user", 400),
    1022: ("Webhooks URL is not configured", 412),
    1023: ("Database error occurred", 500),
    1024: ("Password change required", 401),
    1025: ("Request is not valid", 400),
    1026: ("Receiver is incapable of receiving this message", 501),
}

ACCESS_DENIED = 1005
NOT_FOUND = 1006
PARAMETER_ABSENT = 1008
PARAMETER_INVALID = 1009
PARAMETER_NOT_REQUIRED = 1010
SERVICE_NOT_READY = 1011
INTERNAL_ERROR = 1014
TOO_MANY_REQUESTS = 1015
OVERLOADED = 1016
DATABASE_ERROR = 1023
PASSWORD_CHANGE_REQUIRED = 1024


def version():
    return os.environ.get("WA_VERSION", "v2.45.1")


def meta():
    return {"api_status": "stable", "version": version()}


def error_object(code, details=""):
    """One entry of the ``errors`` list; unknown codes become code 0 as the web app does."""
    if code not in CODES:
        details = "Undefined error code %s" % code
        code = 0
    err = {"code": code, "title": CODES[code][0]}
    if details:
        err["details"] = details
    return err


def http_status(code):
    return CODES.get(code, CODES[0])[1]


class ApiError(Exception):
    """An API error with its code; ``status`` overrides the mapped HTTP status (the firewall's 401s)."""

    def __init__(self, code, details="", status=None):
        super().__init__(details or CODES.get(code, CODES[0])[0])
        self.code = code
        self.details = details
        self.status = status or http_status(code)

    def to_errors(self):
        return [error_object(self.code, self.details)]

    @classmethod
    def from_errors(cls, errors):
        first = errors[0]
        return cls(first.get("code", 0), first.get("details", ""))


def envelope(payload=None, errors=None):
    """Payload keys merged at top level with ``meta`` and, when present, ``errors``."""
    body = dict(payload or {})
    if errors:
        body["errors"] = errors
    body["meta"] = meta()
    return body
