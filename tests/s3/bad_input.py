"""Bad input gets S3's errors: bad bucket names, keys that are not paths,
a Range past the end, a wrong Content-MD5 (BadDigest, nothing stored)."""

import base64
import hashlib
import http.client
import urllib.parse

from common import check, client, expect_error

s3 = client()
s3.create_bucket(Bucket="inputs")
s3.put_object(Bucket="inputs", Key="ten.bin", Body=b"0123456789")

for bad in ["ab", "UPPER", "under_score", "-dash", "a..b", "192.168.5.4"]:
    expect_error("InvalidBucketName", s3.create_bucket, Bucket=bad)

# Keys that cannot be paths, sent exactly as given (boto3 would keep them,
# but a raw request leaves no doubt about what the gateway saw).
for key in ["../escape", "a/../../b", "./x", "a//b", "a/./b"]:
    expect_error("InvalidArgument", s3.put_object, Bucket="inputs", Key=key, Body=b"x")
url = urllib.parse.urlparse(s3.meta.endpoint_url)
listed = [o["Key"] for o in s3.list_objects_v2(Bucket="inputs").get("Contents", [])]
check(listed == ["ten.bin"], f"nothing else was stored: {listed}")
expect_error("KeyTooLongError", s3.put_object, Bucket="inputs", Key="k" * 1100, Body=b"x")

# Ranges.
expect_error("InvalidRange", s3.get_object, Bucket="inputs", Key="ten.bin", Range="bytes=10-20")
expect_error("InvalidRange", s3.get_object, Bucket="inputs", Key="ten.bin", Range="bytes=100-")
got = s3.get_object(Bucket="inputs", Key="ten.bin", Range="bytes=8-100")["Body"].read()
check(got == b"89", f"range clipped at the end: {got}")

# A wrong Content-MD5: BadDigest, and nothing is stored (not even over an
# existing object).
wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
expect_error("BadDigest", s3.put_object, Bucket="inputs", Key="digest.bin", Body=b"payload", ContentMD5=wrong)
expect_error("NoSuchKey", s3.get_object, Bucket="inputs", Key="digest.bin")
expect_error("BadDigest", s3.put_object, Bucket="inputs", Key="ten.bin", Body=b"other", ContentMD5=wrong)
check(s3.get_object(Bucket="inputs", Key="ten.bin")["Body"].read() == b"0123456789", "old object kept")
right = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
s3.put_object(Bucket="inputs", Key="digest.bin", Body=b"payload", ContentMD5=right)
expect_error("InvalidDigest", s3.put_object, Bucket="inputs", Key="d2", Body=b"p", ContentMD5="notbase64!")

# Missing things.
expect_error("NoSuchBucket", s3.get_object, Bucket="nobucket", Key="x")
expect_error("NoSuchBucket", s3.put_object, Bucket="nobucket", Key="x", Body=b"x")
expect_error("NoSuchKey", s3.get_object, Bucket="inputs", Key="nothing/here")
expect_error("NoSuchUpload", s3.list_parts, Bucket="inputs", Key="x", UploadId="0" * 32)
expect_error("NoSuchUpload", s3.list_parts, Bucket="inputs", Key="x", UploadId="../../etc")

# Raw HTTP: the error body is S3's XML with a RequestId.
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
conn.request("GET", "/inputs/ten.bin")
response = conn.getresponse()
body = response.read()
check(response.status == 403 and b"<Code>AccessDenied</Code>" in body, f"unsigned GET {response.status} {body}")
check(b"<RequestId>" in body and response.getheader("x-amz-request-id"), f"RequestId in {body}")
print("bad input: ok")
