"""Virtual-hosted-style addressing: `http://BUCKET.localhost:PORT/KEY`
(the gateway's default domain, `localhost`) reaches the same buckets and
objects as path-style, which keeps working on `localhost:PORT` and on the
IP address.

glibc here does not resolve `*.localhost` (only systemd-resolved does), so
this script resolves names under `.localhost` to 127.0.0.1 itself; the
requests still carry `Host: BUCKET.localhost:PORT`, which is what the
gateway routes by."""

import socket
from urllib.parse import urlsplit

from common import ENDPOINT, check, client, data, expect_error, md5

_getaddrinfo = socket.getaddrinfo


def _resolve_localhost(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _resolve_localhost

port = urlsplit(ENDPOINT).port
by_name = f"http://localhost:{port}"
virtual = client(endpoint=by_name, addressing="virtual")
path_by_name = client(endpoint=by_name)
path_by_ip = client()

hosts = []
virtual.meta.events.register("before-send.s3", lambda request, **_: hosts.append(urlsplit(request.url).netloc))

virtual.create_bucket(Bucket="vhosted")
body = data(300_000, 60)
virtual.put_object(Bucket="vhosted", Key="dir/one.bin", Body=body, ContentType="x/one")
got = virtual.get_object(Bucket="vhosted", Key="dir/one.bin")
check(got["Body"].read() == body, "virtual-hosted GET: wrong bytes")
check(got["ContentType"] == "x/one", f"content type {got['ContentType']}")
check(hosts and all(h == f"vhosted.localhost:{port}" for h in hosts), f"requests went to {set(hosts)}")
# The bucket root: a listing.
keys = [o["Key"] for o in virtual.list_objects_v2(Bucket="vhosted", Prefix="dir/")["Contents"]]
check(keys == ["dir/one.bin"], f"virtual-hosted listing {keys}")
head = virtual.head_object(Bucket="vhosted", Key="dir/one.bin")
check(head["ETag"] == f'"{md5(body)}"', f"HEAD ETag {head['ETag']}")
expect_error("NoSuchKey", virtual.get_object, Bucket="vhosted", Key="missing")

# The same object path-style, by name and by IP; ListBuckets on the domain.
for s3 in (path_by_name, path_by_ip):
    check(s3.get_object(Bucket="vhosted", Key="dir/one.bin")["Body"].read() == body, "path-style GET")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check("vhosted" in names, f"ListBuckets {names}")

# Written path-style, read virtual-hosted-style, deleted virtual-hosted-style.
path_by_ip.put_object(Bucket="vhosted", Key="two.txt", Body=b"two")
check(virtual.get_object(Bucket="vhosted", Key="two.txt")["Body"].read() == b"two", "two.txt")
virtual.delete_object(Bucket="vhosted", Key="two.txt")
expect_error("NoSuchKey", path_by_ip.get_object, Bucket="vhosted", Key="two.txt")
print(f"virtual-hosted-style: {len(hosts)} requests to vhosted.localhost:{port}")
