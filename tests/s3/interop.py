"""The S3 side of the S3 <-> `cairn dfs` checks.

usage: interop.py put BUCKET KEY SIZE SEED   (creates the bucket if needed)
       interop.py check BUCKET KEY SHA256 SIZE
         (listed with SIZE, read back with SHA256, the same ETag twice and in
         the listing; prints the ETag)
       interop.py begin BUCKET KEY   (starts a multipart upload of KEY with
         one 5 MiB part and leaves it in progress; prints the upload id)
       interop.py unlisted BUCKET KEY UPLOAD_ID   (the upload in progress is
         listed by ListMultipartUploads and nowhere else)"""

import sys

from botocore.exceptions import ClientError

from common import check, client, data, sha256

s3 = client()
mode, bucket, key = sys.argv[1:4]


def ensure_bucket():
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as err:
        check(err.response["Error"]["Code"] == "BucketAlreadyOwnedByYou", str(err))


if mode == "put":
    size, seed = int(sys.argv[4]), int(sys.argv[5])
    ensure_bucket()
    s3.put_object(Bucket=bucket, Key=key, Body=data(size, seed))
    print(sha256(data(size, seed)))
elif mode == "check":
    want_sha, want_size = sys.argv[4], int(sys.argv[5])
    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    check(key in listed, f"{key} not listed: {sorted(listed)}")
    check(listed[key]["Size"] == want_size, f"listed size {listed[key]['Size']} != {want_size}")
    got = s3.get_object(Bucket=bucket, Key=key)
    body = got["Body"].read()
    check(sha256(body) == want_sha and len(body) == want_size, "bytes read through S3")
    again = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    check(got["ETag"] == again == listed[key]["ETag"], f"ETags {got['ETag']} {again} {listed[key]['ETag']}")
    print(got["ETag"])
elif mode == "begin":
    ensure_bucket()
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=data(5 << 20, 3))
    print(upload)
elif mode == "unlisted":
    upload = sys.argv[4]
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(buckets == [bucket], f"buckets {buckets}")
    listed = s3.list_objects_v2(Bucket=bucket)
    check("Contents" not in listed, f"listed objects {listed.get('Contents')}")
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    check([(u["Key"], u["UploadId"]) for u in uploads] == [(key, upload)], f"uploads {uploads}")
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload)["Parts"]
    check([p["Size"] for p in parts] == [5 << 20], f"parts {parts}")
else:
    check(False, f"unknown mode {mode}")
