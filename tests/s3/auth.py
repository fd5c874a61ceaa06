"""Authentication and permissions: presigned GET and PUT used with a plain
HTTP client, an expired one refused, a wrong secret, an unknown key, a
user without write permission, anonymous access until the bucket is made
public-read.

The Rust test configures key 0 for the superuser and key 1 for user bob."""

import time
import urllib.error
import urllib.request

from common import check, client, expect_error, key

s3 = client()
s3.create_bucket(Bucket="secure")
s3.put_object(Bucket="secure", Key="report.txt", Body=b"quarterly numbers")


def http(method, url, body=None):
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# Presigned GET and PUT with a plain HTTP client.
url = s3.generate_presigned_url(
    "get_object", Params={"Bucket": "secure", "Key": "report.txt"}, ExpiresIn=600
)
status, body = http("GET", url)
check(status == 200 and body == b"quarterly numbers", f"presigned GET {status} {body[:200]}")
url = s3.generate_presigned_url(
    "put_object", Params={"Bucket": "secure", "Key": "upload.txt"}, ExpiresIn=600
)
status, body = http("PUT", url, b"sent with a presigned URL")
check(status == 200, f"presigned PUT {status} {body[:300]}")
got = s3.get_object(Bucket="secure", Key="upload.txt")["Body"].read()
check(got == b"sent with a presigned URL", "presigned PUT stored")

# An expired presigned URL is refused (polled: it expires after 1 s).
url = s3.generate_presigned_url(
    "get_object", Params={"Bucket": "secure", "Key": "report.txt"}, ExpiresIn=1
)
deadline = time.monotonic() + 30
while True:
    status, body = http("GET", url)
    if status != 200 or time.monotonic() > deadline:
        break
    time.sleep(0.2)
check(status == 403 and b"AccessDenied" in body and b"expired" in body, f"expired URL: {status} {body}")
check(b"<RequestId>" in body, f"error without RequestId: {body}")

# A tampered presigned URL does not verify.
url = s3.generate_presigned_url(
    "get_object", Params={"Bucket": "secure", "Key": "report.txt"}, ExpiresIn=600
)
status, body = http("GET", url.replace("report.txt", "upload.txt"))
check(status == 403 and b"SignatureDoesNotMatch" in body, f"tampered URL: {status} {body}")

# Wrong secret, unknown key.
access, _ = key(0)
expect_error("SignatureDoesNotMatch", client(access, "not-the-secret").list_buckets)
expect_error("InvalidAccessKeyId", client("AKIDONTEXIST", "whatever").list_buckets)

# Bob may read (the bucket is 755) but not write: the namenode decides.
bob = client(*key(1))
check(bob.get_object(Bucket="secure", Key="report.txt")["Body"].read() == b"quarterly numbers", "bob reads")
response = expect_error("AccessDenied", bob.put_object, Bucket="secure", Key="bob.txt", Body=b"b")
check("bob" in response["Error"].get("Message", ""), f"message names the user: {response}")
expect_error("AccessDenied", bob.delete_object, Bucket="secure", Key="report.txt")
expect_error("NoSuchKey", s3.get_object, Bucket="secure", Key="bob.txt")

# Anonymous requests: refused until the bucket is public-read.
public = f"{client().meta.endpoint_url}/secure/report.txt"
status, body = http("GET", public)
check(status == 403 and b"AccessDenied" in body, f"anonymous GET of a private bucket: {status} {body}")
s3.put_bucket_acl(Bucket="secure", ACL="public-read")
status, body = http("GET", public)
check(status == 200 and body == b"quarterly numbers", f"anonymous GET of a public bucket: {status}")
status, body = http("PUT", f"{client().meta.endpoint_url}/secure/anon.txt", b"x")
check(status == 403, f"anonymous PUT: {status} {body}")
s3.put_bucket_acl(Bucket="secure", ACL="private")
status, _ = http("GET", public)
check(status == 403, f"anonymous GET after private: {status}")
s3.create_bucket(Bucket="open", ACL="public-read")
status, body = http("GET", f"{client().meta.endpoint_url}/open?list-type=2")
check(status == 200 and b"ListBucketResult" in body, f"anonymous listing: {status} {body}")

# The metrics count what happened.
status, body = http("GET", f"{client().meta.endpoint_url}/metrics")
text = body.decode()
check(status == 200 and 'operation="PutObject",status="200"' in text, f"metrics: {text[:2000]}")
check("cairn_s3_received_bytes_total" in text and "cairn_s3_sent_bytes_total" in text, "byte counters")
print("auth: ok")
