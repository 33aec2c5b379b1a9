"""When the executor replaces an instance credential (credmanager.go).

The code (not the docs) rotates exactly 30 min before expiry when the validity
is over 4 h, otherwise 1/8 of the validity before expiry, and re-arms the same
period after each rotation.
"""

from __future__ import annotations

import datetime as dt

_LONG = dt.timedelta(hours=4)
_MARGIN = dt.timedelta(minutes=30)


def rotation_period(validity: dt.timedelta) -> dt.timedelta:
    """Time from issuing a credential to issuing its successor."""
    if validity <= dt.timedelta(0):
        raise ValueError("validity must be positive")
    if validity > _LONG:
        return validity - _MARGIN
    return validity - validity / 8
