"""A sample Open Service Broker (API v2) that delivers binding credentials through CredHub."""
