"""The app lifecycle's launcher: the last step before the app's own command runs."""
