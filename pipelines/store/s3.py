"""The ``s3://bucket/prefix`` store, through boto3: AWS S3 or any compatible service (MinIO, moto, …).

Credentials come from the standard AWS chain (environment, profile, instance role); the endpoint from the standard
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` settings (boto3 ≥ 1.28 reads them itself), the region from
``AWS_REGION`` / ``AWS_DEFAULT_REGION`` / the profile, else ``us-east-1``. Nothing secret is logged or put in a message.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from cues.pipelines.store.base import ObjectInfo, ObjectStore, PutResult, sha256_file
from cues.pipelines.store.local import temp_name
from cues.pipelines.store.uri import StoreLocation
from cues.schemas.errors import StoreConflict, StoreError, StoreNotFound, StoreUnavailable, StoreUnreachable

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 16 * 1024**2  # bytes; larger files go up as parallel parts
MIN_PART_SIZE = 5 * 1024**2  # bytes; S3 refuses smaller parts (except the last)
# if_absent writes need a conditional PUT (IfNoneMatch), which boto3's managed upload_file cannot send, so they are
# one put_object each: at most S3's 5 GiB limit for a single PUT, and a failed one starts again from the beginning.
MAX_IF_ABSENT_SIZE = 5 * 1024**3  # bytes
# Error codes that mean "try again later" whatever their status (S3 and compatible services).
_TRY_AGAIN = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable", "InternalError"}
_CREDENTIALS_HINT = (
    "check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role) "
    "and that they may read and write this bucket"
)


class S3Store(ObjectStore):
    """A store under ``s3://bucket/prefix``.

    Picklable: the boto3 client is made on first use in each process and never pickled.
    ``max_attempts`` counts the first try; timeouts are in seconds; ``multipart_threshold`` in bytes (≥ 5 MiB).
    """

    def __init__(
        self,
        location: StoreLocation,
        *,
        max_attempts: int = 5,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        multipart_threshold: int = MULTIPART_THRESHOLD,
    ):
        super().__init__(location)
        if multipart_threshold < MIN_PART_SIZE:
            raise StoreError(f"multipart_threshold must be at least {MIN_PART_SIZE} bytes (5 MiB, S3's minimum part)")
        self.bucket = location.bucket
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.multipart_threshold = multipart_threshold
        self._client = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None}  # a client holds sockets and credentials: made again per process

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._client = None

    @property
    def client(self):
        """The boto3 S3 client, made on first use."""
        if self._client is None:
            self._client = self._make_client(path_style=False)
            if not _is_aws(self._client.meta.endpoint_url):
                # Compatible services (MinIO, moto) usually sit behind one host name: bucket names go in the path.
                self._client = self._make_client(path_style=True)
            log.debug("S3 client for %s via %s", self.uri, self._client.meta.endpoint_url)
        return self._client

    def _make_client(self, path_style: bool):
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",  # every region accepts SigV4 (newer ones refuse SigV2); presigned up to 7 days
            retries={"mode": "standard", "max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            # Every body we send carries its SHA-256 (ours: ChecksumSHA256) or botocore's CRC32 in a signed header,
            # which S3 checks; signing the body as well would hash it once more. botocore skips that over HTTPS
            # already; this skips it over plain HTTP too (MinIO or moto on a private network).
            s3={"payload_signing_enabled": False, **({"addressing_style": "path"} if path_style else {})},
        )
        # boto3 reads AWS_DEFAULT_REGION and the profile, but not AWS_REGION.
        with _SESSION_LOCK:  # boto3 sessions are not thread-safe
            session = _session()
            region = os.environ.get("AWS_REGION") or session.region_name or "us-east-1"
            return session.client("s3", config=config, region_name=region)

    def _endpoint(self) -> str:
        if self._client is not None:
            return self._client.meta.endpoint_url
        return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "AWS S3"

    def _full(self, key: str) -> str:
        key = self._key(key)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    @contextmanager
    def _errors(self, key: str = ""):
        """botocore's exceptions → our typed errors, each naming the object and what to check."""
        from boto3.exceptions import S3UploadFailedError
        from botocore import exceptions as bx

        where = self.uri_for(key) if key else self.uri
        try:
            yield
        except (bx.ConnectionError, bx.HTTPClientError) as err:  # refused, DNS, TLS, proxy, timeouts, dropped
            raise StoreUnavailable(
                f"cannot reach S3 endpoint {self._endpoint()} for {where}: {err}; check AWS_ENDPOINT_URL / the network"
            ) from None
        except (bx.NoCredentialsError, bx.PartialCredentialsError):
            raise StoreUnreachable(f"no AWS credentials found for {where}; {_CREDENTIALS_HINT}") from None
        except bx.ClientError as err:
            raise self._client_error(err, where) from None
        except S3UploadFailedError as err:
            cause = err.__context__  # upload_file wraps the ClientError it caught
            if isinstance(cause, bx.ClientError):
                raise self._client_error(cause, where) from None
            if isinstance(cause, (bx.ConnectionError, bx.HTTPClientError)):
                raise StoreUnavailable(f"cannot reach S3 endpoint {self._endpoint()} for {where}: {cause}") from None
            raise StoreError(f"upload to {where} failed: {err}") from None

    def _client_error(self, err, where: str) -> StoreError:
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return StoreError(f"bucket {self.bucket!r} does not exist (for {where}); create it or fix the store URI")
        if code in {"NoSuchKey", "NotFound", "404"} or status == 404:
            return StoreNotFound(f"{where} does not exist")
        if code in {"PreconditionFailed", "412", "ConditionalRequestConflict"} or status == 412:
            return StoreConflict(f"{where} already exists")
        if status == 403 or code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}:
            # Without s3:ListBucket, S3 also answers 403 for keys that do not exist.
            return StoreUnreachable(f"access denied to {where} ({code or status}); {_CREDENTIALS_HINT}")
        if code in _TRY_AGAIN or (isinstance(status, int) and status >= 500):
            return StoreUnavailable(f"S3 is unavailable for {where}: {code or status}: {error.get('Message', '')}")
        return StoreError(f"S3 error on {where}: {code or status}: {error.get('Message', '')}")

    # --- writing ---------------------------------------------------------------------------------------------

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        if_absent: bool = False,
        durable: bool = True,  # an acknowledged PUT is durable: nothing to skip
    ) -> PutResult:
        # S3 conditional write: 412 if another writer got there first
        return self._put_object(key, data, content_type, {"IfNoneMatch": "*"} if if_absent else {})

    def _put_object(self, key: str, data: bytes, content_type: str | None, condition: dict[str, str]) -> PutResult:
        """One PUT of ``data`` with its SHA-256 (``_checksum_args``) and S3's ``condition`` headers, if any."""
        digest = hashlib.sha256(data).hexdigest()
        args = {"Bucket": self.bucket, "Key": self._full(key), "Body": data, **_checksum_args(digest), **condition}
        if content_type:
            args["ContentType"] = content_type
        with self._errors(key):
            self.client.put_object(**args)
        return PutResult(key, len(data), digest)

    def put_file(
        self, key: str, path: str | Path, *, content_type: str | None = None, if_absent: bool = False
    ) -> PutResult:
        """Stream a file up; above ``multipart_threshold`` bytes in parts, except ``if_absent`` writes.

        ``if_absent`` writes are one conditional PUT of at most 5 GiB (``MAX_IF_ABSENT_SIZE``).
        """
        source = self._source(key, path)
        digest, size = sha256_file(source)  # one extra read, so the digest is in the metadata from the start
        # One PUT carries the digest for S3 to check; parts carry botocore's CRC32s (S3 has no whole-object
        # SHA-256 for a multipart upload).
        single_put = if_absent or size < self.multipart_threshold
        extra = _checksum_args(digest) if single_put else {"Metadata": {"sha256": digest}}
        if content_type:
            extra["ContentType"] = content_type
        if if_absent and size > MAX_IF_ABSENT_SIZE:
            raise StoreError(
                f"cannot write {self.uri_for(key)} with if_absent: {source} is {size:,} bytes, and a conditional "
                f"write is one PUT of at most {MAX_IF_ABSENT_SIZE:,} bytes (5 GiB); write it without if_absent"
            )
        with self._errors(key):
            if if_absent:
                with open(source, "rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=body, IfNoneMatch="*", **extra)
            else:
                from boto3.s3.transfer import TransferConfig

                transfer = TransferConfig(
                    multipart_threshold=self.multipart_threshold, multipart_chunksize=self.multipart_threshold
                )
                self.client.upload_file(str(source), self.bucket, self._full(key), ExtraArgs=extra, Config=transfer)
        return PutResult(key, size, digest)

    def replace_if_unchanged(
        self, key: str, data: bytes, version: str, *, content_type: str | None = None
    ) -> PutResult:
        # The version is the ETag: S3's conditional write (If-Match) answers 412 if the object changed, 404 if it
        # was deleted, 409 if another conditional write to it is under way; each means "read it again".
        try:
            return self._put_object(key, data, content_type, {"IfMatch": version})
        except StoreNotFound:
            raise StoreConflict(f"{self.uri_for(key)} no longer exists") from None
        except StoreConflict:
            raise StoreConflict(f"{self.uri_for(key)} changed since it was read") from None

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))

    # --- reading ---------------------------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        with self._errors(key):
            return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        with self._errors(key):
            answer = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
            return answer["Body"].read(), answer["ETag"]

    def get_file(self, key: str, dest_path: str | Path) -> Path:
        dest = Path(dest_path)
        tmp = temp_name(dest)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with self._errors(key):
                self.client.download_file(self.bucket, self._full(key), str(tmp))
            os.replace(tmp, dest)
        except OSError as err:
            raise StoreError(f"cannot copy {self.uri_for(key)} to {dest}: {err.strerror or err}") from None
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except StoreNotFound:
            return False
        return True

    def stat(self, key: str) -> ObjectInfo:
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._full(key))
        return ObjectInfo(key, head["ContentLength"], head.get("Metadata", {}).get("sha256"))

    def list(self, prefix: str = "") -> Iterator[str]:
        self._prefix(prefix)
        root = f"{self.location.prefix}/" if self.location.prefix else ""
        keys = []
        with self._errors():
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root + prefix)
            for page in pages:
                # "folder/" placeholders (made by the AWS console) are not objects of ours.
                keys.extend(item["Key"][len(root) :] for item in page.get("Contents", []) if item["Key"][-1] != "/")
        return iter(sorted(keys))

    def presigned_url(self, key: str, expires_in: int = 3600, filename: str | None = None) -> str:
        self._expiry(expires_in)
        params = {"Bucket": self.bucket, "Key": self._full(key)}
        if filename is not None:  # signed into the URL: S3 answers with this header instead of none
            params["ResponseContentDisposition"] = f'attachment; filename="{_header_safe(filename)}"'
        with self._errors(key):
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)


def _header_safe(filename: str) -> str:
    """``filename`` as a quoted-string of a Content-Disposition header: printable ASCII without ``"`` or ``\\``."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)


_SESSIONS: dict[tuple, object] = {}
_SESSION_LOCK = threading.Lock()


def _session():
    """One boto3 session per process and AWS environment: a new session costs ~0.1 s, a client from it ~5 ms."""
    import boto3

    key = (os.getpid(), tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))
    if key not in _SESSIONS:
        _SESSIONS[key] = boto3.session.Session()
    return _SESSIONS[key]


def _checksum_args(sha256_hex: str) -> dict:
    """A single PUT's arguments for its SHA-256: in the metadata (``stat`` reads it back as the manifest's digest)
    and as S3's ``ChecksumSHA256``, which S3 checks against the body it receives (a file changed after it was
    hashed, or a body damaged on the way, is refused with ``BadDigest`` instead of stored) and keeps with the object.
    Given a checksum, botocore computes none of its own."""
    checksum = base64.b64encode(bytes.fromhex(sha256_hex)).decode()
    return {"Metadata": {"sha256": sha256_hex}, "ChecksumAlgorithm": "SHA256", "ChecksumSHA256": checksum}


def _is_aws(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))
