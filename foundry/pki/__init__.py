"""The foundation's PKI: CAs, job certificates and instance identity credentials."""

from foundry.pki.ca import (
    Credential,
    app_organizational_units,
    issue_instance_identity,
    issue_leaf,
    new_ca,
    new_instance_guid,
)
from foundry.pki.rotation import rotation_period

__all__ = [
    "Credential",
    "app_organizational_units",
    "issue_instance_identity",
    "issue_leaf",
    "new_ca",
    "new_instance_guid",
    "rotation_period",
]
