"""What diego-ssh's daemon gives an ssh session inside an app container."""
