"""WebHDFS through fsspec's `webhdfs` file system, as its users call it.

Usage: fsspec_roundtrip.py HOST PORT USER
Uploads, lists, reads, renames and deletes; a missing path must raise
FileNotFoundError. Exits non-zero on failure.
"""
import os
import sys

import fsspec

host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fs = fsspec.filesystem("webhdfs", host=host, port=port, user=user)

data = os.urandom(2 * 1024 * 1024 + 7)
fs.mkdir("/fsspec/dir")
with fs.open("/fsspec/dir/a.bin", "wb") as f:
    f.write(data)
fs.pipe_file("/fsspec/dir/b.txt", b"hello from fsspec\n")

names = sorted(os.path.basename(p) for p in fs.ls("/fsspec/dir", detail=False))
assert names == ["a.bin", "b.txt"], names
info = fs.info("/fsspec/dir/a.bin")
assert info["type"] == "file" and info["size"] == len(data), info

with fs.open("/fsspec/dir/a.bin", "rb") as f:
    assert f.read() == data, "content differs"
    f.seek(4096)
    assert f.read(100) == data[4096:4196], "range read differs"
assert fs.cat_file("/fsspec/dir/b.txt") == b"hello from fsspec\n"

fs.mv("/fsspec/dir/b.txt", "/fsspec/dir/c.txt")
assert fs.exists("/fsspec/dir/c.txt") and not fs.exists("/fsspec/dir/b.txt")

fs.rm("/fsspec/dir/a.bin")
assert not fs.exists("/fsspec/dir/a.bin")

try:
    fs.info("/fsspec/nope")
except FileNotFoundError:
    pass
else:
    raise AssertionError("a missing path did not raise FileNotFoundError")
try:
    fs.cat_file("/fsspec/nope")
except FileNotFoundError:
    pass
else:
    raise AssertionError("reading a missing path did not raise FileNotFoundError")

fs.rm("/fsspec", recursive=True)
assert not fs.exists("/fsspec")
print("fsspec: ok")
