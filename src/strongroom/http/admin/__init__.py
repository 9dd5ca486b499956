"""The admin API (JSON over HTTPS, SigV4-signed)."""
