"""GET and HEAD with `partNumber`: part N of an object completed from a
multipart upload is its own byte range (206, Content-Range,
x-amz-mp-parts-count); a number past the last part is InvalidPartNumber;
an object put in one piece is one part."""

from botocore.exceptions import ClientError

from common import check, client, data, expect_error, md5

MiB = 1024 * 1024
s3 = client()
s3.create_bucket(Bucket="numbered")

sizes = [5 * MiB, 5 * MiB, 3 * 1024]
chunks = [data(size, 40 + i) for i, size in enumerate(sizes)]
uid = s3.create_multipart_upload(Bucket="numbered", Key="three.bin")["UploadId"]
done = []
for number, chunk in enumerate(chunks, start=1):
    part = s3.upload_part(Bucket="numbered", Key="three.bin", UploadId=uid, PartNumber=number, Body=chunk)
    done.append({"PartNumber": number, "ETag": part["ETag"]})
s3.complete_multipart_upload(
    Bucket="numbered", Key="three.bin", UploadId=uid, MultipartUpload={"Parts": done}
)
total = sum(sizes)

start = 0
for number, chunk in enumerate(chunks, start=1):
    got = s3.get_object(Bucket="numbered", Key="three.bin", PartNumber=number)
    meta = got["ResponseMetadata"]
    body = got["Body"].read()
    check(meta["HTTPStatusCode"] == 206, f"part {number}: status {meta['HTTPStatusCode']}")
    check(md5(body) == md5(chunk), f"part {number}: wrong bytes ({len(body)} bytes)")
    check(got["ContentLength"] == len(chunk), f"part {number}: length {got['ContentLength']}")
    expected_range = f"bytes {start}-{start + len(chunk) - 1}/{total}"
    check(got["ContentRange"] == expected_range, f"part {number}: {got['ContentRange']} != {expected_range}")
    check(got["PartsCount"] == 3, f"part {number}: parts count {got.get('PartsCount')}")
    head = s3.head_object(Bucket="numbered", Key="three.bin", PartNumber=number)
    check(head["ResponseMetadata"]["HTTPStatusCode"] == 206, f"HEAD part {number}: status")
    check(head["ContentLength"] == len(chunk), f"HEAD part {number}: length {head['ContentLength']}")
    check(head["PartsCount"] == 3, f"HEAD part {number}: parts count {head.get('PartsCount')}")
    check(head["ContentRange"] == expected_range, f"HEAD part {number}: {head.get('ContentRange')}")
    start += len(chunk)

# Past the last part, and not a part number at all.
err = expect_error("InvalidPartNumber", s3.get_object, Bucket="numbered", Key="three.bin", PartNumber=4)
check(err["ResponseMetadata"]["HTTPStatusCode"] == 416, f"status {err['ResponseMetadata']}")
expect_error("InvalidArgument", s3.get_object, Bucket="numbered", Key="three.bin", PartNumber=10001)
try:
    s3.head_object(Bucket="numbered", Key="three.bin", PartNumber=4)
    check(False, "HEAD of part 4 of 3 succeeded")
except ClientError as e:
    status = e.response["ResponseMetadata"]["HTTPStatusCode"]
    check(status == 416, f"HEAD of part 4: status {status}")
expect_error(
    "InvalidRequest",
    s3.get_object,
    Bucket="numbered",
    Key="three.bin",
    PartNumber=1,
    Range="bytes=0-9",
)

# An object put in one piece is one part: part 1 is all of it.
single = data(200_000, 50)
s3.put_object(Bucket="numbered", Key="single.bin", Body=single)
got = s3.get_object(Bucket="numbered", Key="single.bin", PartNumber=1)
check(got["Body"].read() == single, "single part 1: wrong bytes")
check(got["ContentRange"] == f"bytes 0-{len(single) - 1}/{len(single)}", f"single: {got['ContentRange']}")
check("PartsCount" not in got, f"single: parts count {got.get('PartsCount')}")
expect_error("InvalidPartNumber", s3.get_object, Bucket="numbered", Key="single.bin", PartNumber=2)

# Overwritten by a single PUT, the multipart object's parts are gone.
s3.put_object(Bucket="numbered", Key="three.bin", Body=single)
got = s3.get_object(Bucket="numbered", Key="three.bin", PartNumber=1)
check(got["Body"].read() == single, "overwritten: part 1 is the new object")
expect_error("InvalidPartNumber", s3.get_object, Bucket="numbered", Key="three.bin", PartNumber=2)
print("partNumber: GET and HEAD of parts 1-3, errors, single-part objects")
