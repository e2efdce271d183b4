"""Failure causes, with JsSIP's names and values (``JsSIP.C.causes``).

Every failed call, registration or request carries one of these strings, so code
ported from JsSIP compares against the same values.
"""

from __future__ import annotations

# Generic errors.
CONNECTION_ERROR = "Connection Error"
REQUEST_TIMEOUT = "Request Timeout"
SIP_FAILURE_CODE = "SIP Failure Code"
INTERNAL_ERROR = "Internal Error"

# SIP error causes.
BUSY = "Busy"
REJECTED = "Rejected"
REDIRECTED = "Redirected"
UNAVAILABLE = "Unavailable"
NOT_FOUND = "Not Found"
ADDRESS_INCOMPLETE = "Address Incomplete"
INCOMPATIBLE_SDP = "Incompatible SDP"
MISSING_SDP = "Missing SDP"
AUTHENTICATION_ERROR = "Authentication Error"

# Session error causes.
BYE = "Terminated"
WEBRTC_ERROR = "WebRTC Error"
CANCELED = "Canceled"
NO_ANSWER = "No Answer"
EXPIRES = "Expires"
NO_ACK = "No ACK"
DIALOG_ERROR = "Dialog Error"
USER_DENIED_MEDIA_ACCESS = "User Denied Media Access"
BAD_MEDIA_DESCRIPTION = "Bad Media Description"
RTP_TIMEOUT = "RTP Timeout"

# Map of SIP status codes to causes (JsSIP's SIP_ERROR_CAUSES).
SIP_ERROR_CAUSES: dict[str, tuple[int, ...]] = {
    REDIRECTED: (300, 301, 302, 305, 380),
    BUSY: (486, 600),
    REJECTED: (403, 603),
    NOT_FOUND: (404, 604),
    UNAVAILABLE: (480, 410, 408, 430),
    ADDRESS_INCOMPLETE: (484, 424),
    INCOMPATIBLE_SDP: (488, 606),
    AUTHENTICATION_ERROR: (401, 407),
}


def cause_for_status(status_code: int) -> str:
    """The cause JsSIP reports for a final failure response with this status."""
    for cause, codes in SIP_ERROR_CAUSES.items():
        if status_code in codes:
            return cause
    return SIP_FAILURE_CODE
