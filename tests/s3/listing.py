"""Listing a few thousand keys in S3's key order (byte order of whole keys,
not directory order): without and with a delimiter, paginated by
continuation tokens, with prefixes, start-after and ListObjects v1 markers.

usage: listing.py KEY_COUNT"""

import sys
from concurrent.futures import ThreadPoolExecutor

from common import check, client

count = int(sys.argv[1])
s3 = client(max_pool_connections=16)
s3.create_bucket(Bucket="many")

keys = [f"d{i % 7}/sub{i % 3}/k{i:05d}" for i in range(count)]
# Keys whose order differs from directory order: "a" is a directory, so a
# tree walk by name gives a/b, a-b, a0; S3 order is a-b, a/b, a0.
keys += ["a-b", "a/b", "a0", "top", "d3.txt"]


def put(key):
    s3.put_object(Bucket="many", Key=key, Body=key.encode())


with ThreadPoolExecutor(8) as pool:
    list(pool.map(put, keys))
expected = sorted(keys, key=lambda k: k.encode())


def list_all(**kwargs):
    got, pages, token = [], 0, None
    while True:
        args = dict(kwargs)
        if token:
            args["ContinuationToken"] = token
        page = s3.list_objects_v2(Bucket="many", **args)
        pages += 1
        # A page holds keys and common prefixes in two lists; merged, they
        # follow the key order, and every page follows the one before.
        items = [("key", o["Key"]) for o in page.get("Contents", [])]
        items += [("prefix", p["Prefix"]) for p in page.get("CommonPrefixes", [])]
        items.sort(key=lambda item: item[1].encode())
        check(not got or not items or got[-1][1].encode() < items[0][1].encode(), f"pages out of order at {items[:1]}")
        got += items
        check(page["KeyCount"] <= args.get("MaxKeys", 1000), f"KeyCount {page['KeyCount']}")
        if not page["IsTruncated"]:
            return got, pages
        token = page["NextContinuationToken"]


# Everything, in pages of 333, in byte order.
got, pages = list_all(MaxKeys=333)
got_keys = [k for _, k in got]
check(got_keys == expected, f"order: first difference at {next((i for i, (a, b) in enumerate(zip(got_keys, expected)) if a != b), None)}")
check(pages == -(-len(expected) // 333), f"{pages} pages")
first = s3.list_objects_v2(Bucket="many", MaxKeys=3)
check([o["Key"] for o in first["Contents"]] == ["a-b", "a/b", "a0"], f"a-b, a/b, a0: {first['Contents']}")
sizes = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="many", Prefix="a")["Contents"]}
check(sizes == {"a-b": 3, "a/b": 3, "a0": 2}, f"sizes {sizes}")

# With the delimiter: top-level keys and common prefixes, merged in order.
got, _ = list_all(Delimiter="/", MaxKeys=4)
want = sorted(
    [("prefix", p) for p in ["a/"] + [f"d{i}/" for i in range(7)]]
    + [("key", k) for k in ["a-b", "a0", "top", "d3.txt"]],
    key=lambda item: item[1].encode(),
)
check(got == want, f"delimiter listing {got}")

# A prefix inside the tree, with and without the delimiter.
got, _ = list_all(Prefix="d3/", Delimiter="/")
check(got == [("prefix", f"d3/sub{j}/") for j in range(3)], f"d3/ prefixes {got}")
got, _ = list_all(Prefix="d3/sub1/", MaxKeys=50)
want = [k for k in expected if k.startswith("d3/sub1/")]
check([k for _, k in got] == want, "prefix d3/sub1/")
got, _ = list_all(Prefix="d3")
check([k for _, k in got] == [k for k in expected if k.startswith("d3")], "prefix d3 (not a directory)")

# Start-after, and ListObjects v1 with markers.
after = expected[len(expected) // 2]
got, _ = list_all(StartAfter=after)
check([k for _, k in got] == expected[len(expected) // 2 + 1 :], "start-after")
v1, marker = [], None
while True:
    args = {"Bucket": "many", "MaxKeys": 500}
    if marker:
        args["Marker"] = marker
    page = s3.list_objects(**args)
    v1 += [o["Key"] for o in page.get("Contents", [])]
    check(all("Owner" in o for o in page.get("Contents", [])), "v1 owners")
    if not page["IsTruncated"]:
        break
    marker = page.get("NextMarker") or v1[-1]
check(v1 == expected, "ListObjects v1")
owned = s3.list_objects_v2(Bucket="many", MaxKeys=1, FetchOwner=True)["Contents"][0]
check("Owner" in owned, "fetch-owner")
print(f"listing: ok ({len(expected)} keys)")
