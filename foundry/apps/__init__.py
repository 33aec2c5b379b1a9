"""Sample apps shipped in the stack image."""
