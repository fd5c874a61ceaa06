"""Multipart uploads: 5+5+1 MiB completed with a `-3` ETag (a metadata-only
concat), ListParts and ListMultipartUploads, UploadPartCopy, abort leaving
nothing, EntityTooSmall, InvalidPart and InvalidPartOrder."""

import hashlib

from common import check, client, data, expect_error, md5

MiB = 1024 * 1024
s3 = client()
s3.create_bucket(Bucket="parts")

sizes = [5 * MiB, 5 * MiB, 1 * MiB]
chunks = [data(size, 10 + i) for i, size in enumerate(sizes)]
upload = s3.create_multipart_upload(Bucket="parts", Key="joined.bin", ContentType="x/joined")
uid = upload["UploadId"]
ups = s3.list_multipart_uploads(Bucket="parts").get("Uploads", [])
check([u["UploadId"] for u in ups] == [uid], f"ListMultipartUploads {ups}")
etags = []
for number, chunk in enumerate(chunks, start=1):
    part = s3.upload_part(
        Bucket="parts", Key="joined.bin", UploadId=uid, PartNumber=number, Body=chunk
    )
    check(part["ETag"] == f'"{md5(chunk)}"', f"part {number} ETag")
    etags.append(part["ETag"])
parts = s3.list_parts(Bucket="parts", Key="joined.bin", UploadId=uid)["Parts"]
check([p["Size"] for p in parts] == sizes, f"ListParts sizes {parts}")
# Parts in progress are not objects.
listed = s3.list_objects_v2(Bucket="parts").get("Contents", [])
check(listed == [], f"parts visible in the listing: {listed}")
expect_error(
    "InvalidPartOrder",
    s3.complete_multipart_upload,
    Bucket="parts",
    Key="joined.bin",
    UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]},
)
expect_error(
    "InvalidPart",
    s3.complete_multipart_upload,
    Bucket="parts",
    Key="joined.bin",
    UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]},
)
done = s3.complete_multipart_upload(
    Bucket="parts",
    Key="joined.bin",
    UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(etags)]},
)
expected = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest() + "-3"
check(done["ETag"] == f'"{expected}"', f"complete ETag {done['ETag']} != {expected}")
whole = b"".join(chunks)
got = s3.get_object(Bucket="parts", Key="joined.bin")
check(got["Body"].read() == whole, "joined bytes")
check(got["ETag"] == f'"{expected}"', f"GET ETag {got['ETag']}")
check(got["ContentType"] == "x/joined", f"content type {got['ContentType']}")
# Across the part boundaries.
for first in [5 * MiB - 10, 10 * MiB - 10]:
    r = s3.get_object(Bucket="parts", Key="joined.bin", Range=f"bytes={first}-{first + 19}")
    check(r["Body"].read() == whole[first : first + 20], f"range at {first}")
check(s3.list_multipart_uploads(Bucket="parts").get("Uploads", []) == [], "upload gone")
expect_error("NoSuchUpload", s3.list_parts, Bucket="parts", Key="joined.bin", UploadId=uid)

# An aborted upload leaves nothing behind.
uid = s3.create_multipart_upload(Bucket="parts", Key="aborted.bin")["UploadId"]
s3.upload_part(Bucket="parts", Key="aborted.bin", UploadId=uid, PartNumber=1, Body=b"x" * 1000)
s3.abort_multipart_upload(Bucket="parts", Key="aborted.bin", UploadId=uid)
expect_error("NoSuchUpload", s3.list_parts, Bucket="parts", Key="aborted.bin", UploadId=uid)
expect_error("NoSuchKey", s3.get_object, Bucket="parts", Key="aborted.bin")
check(s3.list_multipart_uploads(Bucket="parts").get("Uploads", []) == [], "aborted upload listed")

# A small part in the middle is refused.
uid = s3.create_multipart_upload(Bucket="parts", Key="small.bin")["UploadId"]
small = []
for number, chunk in enumerate([chunks[0], chunks[2], chunks[1]], start=1):
    part = s3.upload_part(Bucket="parts", Key="small.bin", UploadId=uid, PartNumber=number, Body=chunk)
    small.append({"PartNumber": number, "ETag": part["ETag"]})
expect_error(
    "EntityTooSmall",
    s3.complete_multipart_upload,
    Bucket="parts",
    Key="small.bin",
    UploadId=uid,
    MultipartUpload={"Parts": small},
)
s3.abort_multipart_upload(Bucket="parts", Key="small.bin", UploadId=uid)

# UploadPartCopy: a part copied from a range of an existing object.
uid = s3.create_multipart_upload(Bucket="parts", Key="copied.bin")["UploadId"]
p1 = s3.upload_part_copy(
    Bucket="parts",
    Key="copied.bin",
    UploadId=uid,
    PartNumber=1,
    CopySource="parts/joined.bin",
    CopySourceRange=f"bytes=0-{5 * MiB - 1}",
)
p2 = s3.upload_part(Bucket="parts", Key="copied.bin", UploadId=uid, PartNumber=2, Body=b"tail")
s3.complete_multipart_upload(
    Bucket="parts",
    Key="copied.bin",
    UploadId=uid,
    MultipartUpload={
        "Parts": [
            {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": p2["ETag"]},
        ]
    },
)
got = s3.get_object(Bucket="parts", Key="copied.bin")["Body"].read()
check(got == whole[: 5 * MiB] + b"tail", "UploadPartCopy bytes")
print("multipart: ok")
