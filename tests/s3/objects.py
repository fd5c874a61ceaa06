"""PUT/GET/HEAD/DELETE, conditional GETs, a large object across block
boundaries read whole and by ranges, concurrent PUTs' ETags and
Content-MD5 checks, CopyObject and DeleteObjects.

usage: objects.py BIG_SIZE BLOCK_SIZE"""

import base64
import hashlib
import sys
from concurrent.futures import ThreadPoolExecutor

from common import check, client, data, expect_error, md5, sha256, versions

big_size, block_size = int(sys.argv[1]), int(sys.argv[2])
s3 = client()
print(versions())

s3.create_bucket(Bucket="data")
expect_error("BucketAlreadyOwnedByYou", s3.create_bucket, Bucket="data")
names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
check("data" in names, f"bucket listed: {names}")
check(all("CreationDate" in b for b in s3.list_buckets()["Buckets"]), "creation dates")
s3.head_bucket(Bucket="data")
location = s3.get_bucket_location(Bucket="data")
check(location.get("LocationConstraint") in (None, ""), f"location {location}")

# A small object with headers and user metadata.
body = b"hello, cairn\n"
put = s3.put_object(
    Bucket="data",
    Key="docs/hello.txt",
    Body=body,
    ContentType="text/plain",
    Metadata={"colour": "blue"},
)
check(put["ETag"] == f'"{md5(body)}"', f"PUT ETag {put['ETag']}")
head = s3.head_object(Bucket="data", Key="docs/hello.txt")
check(head["ContentLength"] == len(body), f"HEAD length {head}")
check(head["ContentType"] == "text/plain", f"HEAD type {head}")
check(head["Metadata"] == {"colour": "blue"}, f"HEAD metadata {head['Metadata']}")
got = s3.get_object(Bucket="data", Key="docs/hello.txt")
check(got["Body"].read() == body, "GET body")
etag = got["ETag"]

# Conditional requests.
expect_error("304", s3.get_object, Bucket="data", Key="docs/hello.txt", IfNoneMatch=etag)
expect_error(
    "PreconditionFailed", s3.get_object, Bucket="data", Key="docs/hello.txt", IfMatch='"0000"'
)
s3.get_object(Bucket="data", Key="docs/hello.txt", IfMatch=etag)
expect_error(
    "304",
    s3.get_object,
    Bucket="data",
    Key="docs/hello.txt",
    IfModifiedSince=head["LastModified"],
)

# A large object spanning blocks, whole and by ranges across the boundary.
big = data(big_size, 1)
s3.put_object(Bucket="data", Key="big.bin", Body=big)
whole = s3.get_object(Bucket="data", Key="big.bin")["Body"].read()
check(sha256(whole) == sha256(big), f"whole big object ({len(whole)} of {len(big)} bytes)")
for first, last in [
    (block_size - 1000, block_size + 999),
    (block_size - 1, block_size),
    (0, 0),
    (big_size - 10, big_size - 1),
    (3, block_size * 2 + 5),
]:
    last = min(last, big_size - 1)
    part = s3.get_object(Bucket="data", Key="big.bin", Range=f"bytes={first}-{last}")
    check(part["Body"].read() == big[first : last + 1], f"range {first}-{last}")
    check(
        part["ContentRange"] == f"bytes {first}-{last}/{big_size}",
        f"Content-Range {part['ContentRange']}",
    )
suffix = s3.get_object(Bucket="data", Key="big.bin", Range="bytes=-100")["Body"].read()
check(suffix == big[-100:], "suffix range")
tail = s3.get_object(Bucket="data", Key="big.bin", Range=f"bytes={block_size}-")["Body"].read()
check(tail == big[block_size:], "open-ended range")

# Concurrent PUTs of odd lengths, several 4 MiB pieces each: the gateway
# hashes them together in SIMD lanes, and each ETag and Content-MD5 check
# must still be that object's own MD5. One carries a wrong Content-MD5.
def put_concurrently(i):
    payload = data(9 * 1024 * 1024 + 4097 * i + i, 100 + i)
    digest = hashlib.md5(payload).digest()
    if i == 3:
        digest = hashlib.md5(b"something else").digest()
    content_md5 = base64.b64encode(digest).decode()
    if i == 3:
        expect_error(
            "BadDigest",
            s3.put_object,
            Bucket="data",
            Key=f"many/{i}",
            Body=payload,
            ContentMD5=content_md5,
        )
        return
    put = s3.put_object(Bucket="data", Key=f"many/{i}", Body=payload, ContentMD5=content_md5)
    check(put["ETag"] == f'"{md5(payload)}"', f"concurrent PUT {i}: ETag {put['ETag']}")
    got = s3.get_object(Bucket="data", Key=f"many/{i}")["Body"].read()
    check(got == payload, f"concurrent PUT {i}: bytes")


with ThreadPoolExecutor(max_workers=6) as pool:
    list(pool.map(put_concurrently, range(6)))
listed = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="many/")["Contents"]]
check(listed == ["many/0", "many/1", "many/2", "many/4", "many/5"], f"concurrent PUTs listed: {listed}")
s3.delete_objects(Bucket="data", Delete={"Objects": [{"Key": k} for k in listed]})

# CopyObject keeps or replaces the metadata.
s3.copy_object(Bucket="data", Key="copy.txt", CopySource="data/docs/hello.txt")
head = s3.head_object(Bucket="data", Key="copy.txt")
check(head["Metadata"] == {"colour": "blue"} and head["ContentType"] == "text/plain", f"COPY {head}")
s3.copy_object(
    Bucket="data",
    Key="copy.txt",
    CopySource="data/docs/hello.txt",
    MetadataDirective="REPLACE",
    ContentType="application/x-test",
    Metadata={"shape": "round"},
)
head = s3.head_object(Bucket="data", Key="copy.txt")
check(head["Metadata"] == {"shape": "round"}, f"REPLACE metadata {head['Metadata']}")
check(head["ContentType"] == "application/x-test", f"REPLACE type {head}")
check(s3.get_object(Bucket="data", Key="copy.txt")["Body"].read() == body, "copied bytes")

# A directory marker.
s3.put_object(Bucket="data", Key="empty-dir/", Body=b"")
check(s3.head_object(Bucket="data", Key="empty-dir/")["ContentLength"] == 0, "marker HEAD")

# Deletes: one, many, and absent keys are fine.
s3.delete_object(Bucket="data", Key="copy.txt")
expect_error("NoSuchKey", s3.get_object, Bucket="data", Key="copy.txt")
expect_error("404", s3.head_object, Bucket="data", Key="copy.txt")
s3.put_object(Bucket="data", Key="x/1", Body=b"1")
s3.put_object(Bucket="data", Key="x/2", Body=b"2")
result = s3.delete_objects(
    Bucket="data", Delete={"Objects": [{"Key": "x/1"}, {"Key": "x/2"}, {"Key": "nope"}]}
)
check(len(result.get("Deleted", [])) == 3 and not result.get("Errors"), f"DeleteObjects {result}")
listed = s3.list_objects_v2(Bucket="data", Prefix="x/").get("Contents", [])
check(listed == [], f"deleted keys still listed: {listed}")
s3.delete_object(Bucket="data", Key="never-there")
expect_error("BucketNotEmpty", s3.delete_bucket, Bucket="data")
s3.create_bucket(Bucket="scratch")
s3.delete_bucket(Bucket="scratch")
expect_error("NoSuchBucket", s3.list_objects_v2, Bucket="scratch")
print("objects: ok")
