"""The Diego cell: rep + executor + a Garden-like Docker backend."""
