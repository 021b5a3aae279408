#!/usr/bin/env python3
"""botocore as the reference SigV4 signer for SigV4Tests.swift.

Reads a JSON list of requests on stdin and prints, as one JSON list on stdout, what botocore's signers make of
each, so the Swift signer can be compared with them. A request:

    {"kind": "header" | "query",          # S3SigV4Auth (Authorization header) or S3SigV4QueryAuth (presigned URL)
     "service": "s3",                     # anything else: the generic SigV4Auth / SigV4QueryAuth
     "method": "PUT", "scheme": "https", "host": "bucket.s3.amazonaws.com" (with ":port" if any),
     "path": "/key/with spaces/ключ",     # NOT encoded: encoded here as botocore's serializer encodes S3 keys
     "query": [["list-type", "2"], ...],  # NOT encoded, in the order sent
     "headers": [["Content-Type", "audio/ogg"], ...],   # Host is taken from the URL, as botocore does
     "body_hex": "…",                     # the body (botocore hashes it itself)
     "unsigned_payload": false,           # header kind: S3's UNSIGNED-PAYLOAD instead of the body's SHA-256
     "access_key": "…", "secret_key": "…", "session_token": null,
     "region": "us-east-1", "timestamp": "20240102T030405Z", "expires": 3600}

An answer: {"authorization", "headers" (all headers after signing), "url" (the signed URL), "canonical_request",
"string_to_sign"}. The signing time is fixed to "timestamp" (botocore reads the clock through
botocore.auth.get_current_datetime in current versions, datetime.datetime.utcnow in old ones; both are patched, and
the time botocore actually used is checked). Exits non-zero, with the reason on stderr, on any error.
"""
import datetime
import json
import sys

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode, percent_encode_sequence
except ImportError as error:  # pragma: no cover - reported to the Swift test
    sys.stderr.write(f"botocore is not installed for {sys.executable}: {error}\n")
    sys.exit(3)

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"


def fix_clock(timestamp):
    """Makes botocore sign at `timestamp` (YYYYMMDDTHHMMSSZ)."""
    fixed = datetime.datetime.strptime(timestamp, SIGV4_TIMESTAMP)
    if hasattr(botocore.auth, "get_current_datetime"):
        botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed
    else:  # botocore before get_current_datetime: datetime.datetime.utcnow()

        class FixedDateTime(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return fixed

            @classmethod
            def now(cls, tz=None):
                return fixed if tz is None else fixed.replace(tzinfo=tz)

        class FixedModule:
            datetime = FixedDateTime
            timedelta = datetime.timedelta
            timezone = datetime.timezone

        botocore.auth.datetime = FixedModule


def sign(spec):
    fix_clock(spec["timestamp"])
    service = spec.get("service", "s3")
    credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("session_token"))
    url = f'{spec.get("scheme", "https")}://{spec["host"]}{percent_encode(spec["path"], safe="/~")}'
    query = [(name, value) for name, value in spec.get("query", [])]
    if query:
        url += "?" + percent_encode_sequence(query)
    body = bytes.fromhex(spec.get("body_hex", ""))
    request = AWSRequest(method=spec["method"], url=url, data=body)
    for name, value in spec.get("headers", []):
        request.headers[name] = value  # an email.message.Message: repeated names are kept
    if spec.get("unsigned_payload"):
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})

    if spec["kind"] == "header":
        cls = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
        signer = cls(credentials, service, spec["region"])
    elif spec["kind"] == "query":
        cls = botocore.auth.S3SigV4QueryAuth if service == "s3" else botocore.auth.SigV4QueryAuth
        signer = cls(credentials, service, spec["region"], expires=spec.get("expires", 3600))
    else:
        raise ValueError(f'unknown kind {spec["kind"]!r}')

    seen = {}
    canonical_request, string_to_sign = signer.canonical_request, signer.string_to_sign

    def capture_canonical(req):
        seen["canonical_request"] = canonical_request(req)
        return seen["canonical_request"]

    def capture_string_to_sign(req, cr):
        seen["string_to_sign"] = string_to_sign(req, cr)
        return seen["string_to_sign"]

    signer.canonical_request = capture_canonical
    signer.string_to_sign = capture_string_to_sign
    signer.add_auth(request)

    if request.context.get("timestamp") != spec["timestamp"]:
        raise RuntimeError(
            f'botocore {botocore.__version__} signed at {request.context.get("timestamp")!r}, not at '
            f'{spec["timestamp"]!r}: the clock patch in botocore_sign.py no longer works for this version'
        )
    return {
        "authorization": request.headers.get("Authorization"),
        "headers": [[name, value] for name, value in request.headers.items()],
        "url": request.url,
        "canonical_request": seen.get("canonical_request"),
        "string_to_sign": seen.get("string_to_sign"),
    }


def main():
    if sys.argv[1:] == ["--version"]:
        print(botocore.__version__)
        return
    specs = json.load(sys.stdin)
    json.dump({"botocore": botocore.__version__, "results": [sign(spec) for spec in specs]}, sys.stdout,
              ensure_ascii=False)


if __name__ == "__main__":
    main()
