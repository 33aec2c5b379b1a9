"""CredHub: credential storage with mutual-TLS identities (app instances and the broker)."""
