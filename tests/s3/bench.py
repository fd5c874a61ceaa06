"""Benchmark (not a test): S3 gateway throughput against the client library
directly (`cairn dfs -put/-get`) on the same cluster in the same run.

usage: bench.py CAIRN_BIN NAMENODE LARGE_COUNT SMALL_COUNT CLIENTS
  PUT/GET of LARGE_COUNT 64 MiB objects and SMALL_COUNT 4 KiB objects with
  CLIENTS concurrent clients, through S3 (boto3) and through `cairn dfs`."""

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from boto3.s3.transfer import TransferConfig

from common import client, data

cairn, namenode = sys.argv[1], sys.argv[2]
large, small, clients = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
MiB = 1024 * 1024
s3 = client(max_pool_connections=clients * 2)
try:
    s3.create_bucket(Bucket="bench")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
big = data(64 * MiB, 3)
tiny = data(4096, 4)
# One request per object, as `cairn dfs -put` writes one file.
single = TransferConfig(multipart_threshold=1 << 40, max_concurrency=1)
tmp = tempfile.mkdtemp()
local = os.path.join(tmp, "big.bin")
with open(local, "wb") as f:
    f.write(big)
local_tiny = os.path.join(tmp, "tiny.bin")
with open(local_tiny, "wb") as f:
    f.write(tiny)


def timed(label, count, work, size):
    start = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(work, range(count)))
    elapsed = time.monotonic() - start
    rate = f"{count * size / MiB / elapsed:8.1f} MiB/s" if size > 4096 else f"{count / elapsed:8.1f} ops/s"
    print(f"{label:28} {count:5} x {size:>9} B  {elapsed:7.2f} s  {rate}", flush=True)
    return count * size / elapsed if size > 4096 else count / elapsed


def dfs(*args):
    subprocess.run([cairn, "dfs", "-fs", f"cairn://{namenode}", *args], check=True, stdout=subprocess.DEVNULL)


results = {}
results["s3 put 64MiB"] = timed("S3 PUT 64 MiB", large, lambda i: s3.put_object(Bucket="bench", Key=f"big/{i}", Body=big), len(big))
results["dfs put 64MiB"] = timed("cairn dfs -put 64 MiB", large, lambda i: dfs("-put", local, f"/bench/dfs-big-{i}"), len(big))
results["s3 get 64MiB"] = timed("S3 GET 64 MiB", large, lambda i: s3.get_object(Bucket="bench", Key=f"big/{i}")["Body"].read(), len(big))
results["dfs get 64MiB"] = timed("cairn dfs -cat 64 MiB", large, lambda i: dfs("-cat", f"/bench/dfs-big-{i}"), len(big))
results["s3 put 4KiB"] = timed("S3 PUT 4 KiB", small, lambda i: s3.put_object(Bucket="bench", Key=f"small/{i}", Body=tiny), 4096)
results["s3 get 4KiB"] = timed("S3 GET 4 KiB", small, lambda i: s3.get_object(Bucket="bench", Key=f"small/{i}")["Body"].read(), 4096)
results["dfs put 4KiB"] = timed("cairn dfs -put 4 KiB", min(small, 200), lambda i: dfs("-put", local_tiny, f"/bench/dfs-small-{i}"), 4096)
print(f"large PUT ratio S3/direct: {results['s3 put 64MiB'] / results['dfs put 64MiB']:.2f}")
print(f"large GET ratio S3/direct: {results['s3 get 64MiB'] / results['dfs get 64MiB']:.2f}")
