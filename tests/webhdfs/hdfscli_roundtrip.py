"""WebHDFS through HdfsCLI (the `hdfs` package), as its users call it.

Usage: hdfscli_roundtrip.py http://HOST:PORT USER
Uploads, lists, reads, renames and deletes; a missing path must raise
HdfsError with exception FileNotFoundException. Exits non-zero on failure.
"""
import hashlib
import os
import sys

from hdfs import InsecureClient
from hdfs.util import HdfsError

url, user = sys.argv[1], sys.argv[2]
client = InsecureClient(url, user=user)

data = os.urandom(3 * 1024 * 1024 + 123)
client.makedirs("/hdfscli/dir")
client.write("/hdfscli/dir/a.bin", data=data)
client.write("/hdfscli/dir/b.txt", data="hello from hdfscli\n", encoding="utf-8")

names = sorted(client.list("/hdfscli/dir"))
assert names == ["a.bin", "b.txt"], names
status = client.status("/hdfscli/dir/a.bin")
assert status["type"] == "FILE" and status["length"] == len(data), status
assert status["owner"] == user, status

with client.read("/hdfscli/dir/a.bin") as reader:
    back = reader.read()
assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest(), "content differs"
with client.read("/hdfscli/dir/a.bin", offset=1000, length=500) as reader:
    assert reader.read() == data[1000:1500], "range read differs"

client.rename("/hdfscli/dir/b.txt", "/hdfscli/dir/c.txt")
assert sorted(client.list("/hdfscli/dir")) == ["a.bin", "c.txt"]
with client.read("/hdfscli/dir/c.txt", encoding="utf-8") as reader:
    assert reader.read() == "hello from hdfscli\n"

summary = client.content(("/hdfscli"))
assert summary["fileCount"] == 2 and summary["length"] == len(data) + 19, summary

client.write("/hdfscli/dir/c.txt", data="more\n", encoding="utf-8", append=True)
with client.read("/hdfscli/dir/c.txt", encoding="utf-8") as reader:
    assert reader.read() == "hello from hdfscli\nmore\n"

checksum = client.checksum("/hdfscli/dir/a.bin")
assert checksum["length"] == 28 and checksum["algorithm"].startswith("MD5-of-"), checksum

assert client.delete("/hdfscli/dir/a.bin")
assert client.status("/hdfscli/dir/a.bin", strict=False) is None

try:
    client.status("/hdfscli/nope")
except HdfsError as err:
    assert err.exception == "FileNotFoundException", err.exception
else:
    raise AssertionError("a missing path did not raise")

assert client.delete("/hdfscli", recursive=True)
print("hdfscli: ok")
