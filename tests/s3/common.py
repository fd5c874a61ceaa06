"""Shared helpers of the S3 gateway tests: boto3 clients for the gateway
the Rust test started (its endpoint and keys come in the environment) and
assertions that name what failed. Every script exits non-zero on failure."""

import hashlib
import os
import sys

import boto3
import botocore
from botocore.client import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["S3_ENDPOINT"]


def client(access=None, secret=None, endpoint=ENDPOINT, addressing="path", **config):
    """A boto3 S3 client for the gateway, path-style unless `addressing`
    says otherwise, signed with SigV4."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access or os.environ["S3_ACCESS_KEY"],
        aws_secret_access_key=secret or os.environ["S3_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            retries={"max_attempts": 1},
            **config,
        ),
    )


def key(n):
    """The access and secret of the n-th key the Rust test configured."""
    return os.environ[f"S3_KEY{n}_ACCESS"], os.environ[f"S3_KEY{n}_SECRET"]


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def expect_error(code, call, *args, **kwargs):
    """Runs call and checks that S3 answered with error `code`; returns the
    error response."""
    try:
        call(*args, **kwargs)
    except ClientError as err:
        got = err.response.get("Error", {}).get("Code")
        check(got == code, f"expected {code}, got {got}: {err.response}")
        return err.response
    check(False, f"expected {code}, but the call succeeded")


def md5(data):
    return hashlib.md5(data).hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def data(size, seed):
    """Deterministic bytes that differ at every offset (so a read at the
    wrong offset shows)."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(block[:64] + counter.to_bytes(8, "big")).digest() * 2048
        counter += 1
    return bytes(out[:size])


def versions():
    return f"boto3 {boto3.__version__}, botocore {botocore.__version__}"
