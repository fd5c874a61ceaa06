"""The S3 side of the S3 <-> `cairn dfs` checks.

usage: interop.py put BUCKET KEY SIZE SEED   (creates the bucket if needed)
       interop.py check BUCKET KEY SHA256 SIZE
         (listed with SIZE, read back with SHA256, the same ETag twice and in
         the listing; prints the ETag)"""

import sys

from botocore.exceptions import ClientError

from common import check, client, data, sha256

s3 = client()
mode, bucket, key = sys.argv[1:4]
if mode == "put":
    size, seed = int(sys.argv[4]), int(sys.argv[5])
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as err:
        check(err.response["Error"]["Code"] == "BucketAlreadyOwnedByYou", str(err))
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
else:
    check(False, f"unknown mode {mode}")
