"""cflab's platform jobs, one subpackage per Cloud Foundry job."""
