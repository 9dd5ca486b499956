"""Entry point of the S3 gateway process (`strongroom serve` execs into it after bootstrapping)."""

from strongroom.server import run_gateway

if __name__ == "__main__":
    run_gateway()
