"""UAA: the foundation's OAuth2 token server (password, refresh, client-credentials and code grants)."""
