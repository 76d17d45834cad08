"""The ``s3://bucket/prefix`` store, through boto3: AWS S3 or any compatible service (MinIO, moto, …).

Credentials come from the standard AWS chain (environment, profile, instance role), the endpoint from the standard
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` settings; nothing secret is ever logged or put in a message.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from schemas.errors import StoreConflict, StoreError, StoreNotFound, StoreUnreachable
from services.store.base import ObjectInfo, ObjectStore, PutResult, sha256_file
from services.store.uri import StoreLocation

MULTIPART_THRESHOLD = 16 * 1024 * 1024  # bytes; larger files go up in parallel parts
MAX_SINGLE_PUT = 5 * 1024**3  # S3's limit for one PUT, so the limit of an if_absent write
_CREDENTIALS_HINT = (
    "check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance profile) "
    "and that they may access this bucket"
)


def endpoint_url() -> str | None:
    """The S3 endpoint the standard AWS settings name, or ``None`` for AWS itself."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


class S3Store(ObjectStore):
    """A store under ``s3://bucket/prefix``. Picklable: the boto3 client is made lazily in each process."""

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
        self.bucket = location.bucket
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.multipart_threshold = multipart_threshold
        self._client = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None}  # clients hold sockets and do not cross processes

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config

            endpoint = endpoint_url()
            config = Config(
                signature_version="s3v4",
                retries={"mode": "standard", "max_attempts": self.max_attempts},
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                # Compatible services behind one host name (MinIO, moto) need path-style addresses.
                s3={"addressing_style": "path" if endpoint else "auto"},
            )
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
            self._client = boto3.session.Session().client(
                "s3", config=config, region_name=region, endpoint_url=endpoint
            )
        return self._client

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
        except (
            bx.EndpointConnectionError,
            bx.ConnectTimeoutError,
            bx.ReadTimeoutError,
            bx.ConnectionClosedError,
        ) as err:
            endpoint = endpoint_url() or "AWS S3"
            raise StoreUnreachable(
                f"cannot reach S3 endpoint {endpoint} for {where}: {err}; check AWS_ENDPOINT_URL and the network"
            ) from None
        except (bx.NoCredentialsError, bx.PartialCredentialsError):
            raise StoreUnreachable(f"no AWS credentials for {where}; {_CREDENTIALS_HINT}") from None
        except bx.ClientError as err:
            raise self._client_error(err, where) from None
        except S3UploadFailedError as err:
            cause = err.__context__
            if isinstance(cause, bx.ClientError):
                raise self._client_error(cause, where) from None
            raise StoreError(f"upload to {where} failed: {err}") from None

    def _client_error(self, err, where: str) -> StoreError:
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in {"NoSuchKey", "404", "NotFound"}:
            return StoreNotFound(f"{where} does not exist")
        if code == "NoSuchBucket":
            return StoreError(f"bucket {self.bucket!r} does not exist (for {where}); create it or fix the store URI")
        if code in {"PreconditionFailed", "412"} or status == 412:
            return StoreConflict(f"{where} already exists")
        if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}:
            return StoreUnreachable(f"access denied to {where} ({code}); {_CREDENTIALS_HINT}")
        return StoreError(f"S3 error on {where}: {code or status}: {err.response.get('Error', {}).get('Message', '')}")

    # --- writing ---------------------------------------------------------------------------------------------

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str | None = None, if_absent: bool = False
    ) -> PutResult:
        digest = hashlib.sha256(data).hexdigest()
        args = {"Bucket": self.bucket, "Key": self._full(key), "Body": data, "Metadata": {"sha256": digest}}
        if content_type:
            args["ContentType"] = content_type
        if if_absent:
            args["IfNoneMatch"] = "*"  # S3 conditional write: 412 if another writer got there first
        with self._errors(key):
            self.client.put_object(**args)
        return PutResult(key, len(data), digest)

    def put_file(
        self, key: str, path: str | Path, *, content_type: str | None = None, if_absent: bool = False
    ) -> PutResult:
        digest, size = sha256_file(path)
        extra = {"Metadata": {"sha256": digest}}
        if content_type:
            extra["ContentType"] = content_type
        with self._errors(key):
            if if_absent:
                if size > MAX_SINGLE_PUT:
                    raise StoreError(f"if_absent writes are single PUTs, at most 5 GiB; {path} is {size:,} bytes")
                with open(path, "rb") as body:
                    self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=body, IfNoneMatch="*", **extra)
            else:
                from boto3.s3.transfer import TransferConfig

                transfer = TransferConfig(
                    multipart_threshold=self.multipart_threshold,
                    multipart_chunksize=max(self.multipart_threshold, 5 * 1024**2),
                )
                self.client.upload_file(str(path), self.bucket, self._full(key), ExtraArgs=extra, Config=transfer)
        return PutResult(key, size, digest)

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._full(key))

    # --- reading ---------------------------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        with self._errors(key):
            return self.client.get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()

    def get_file(self, key: str, dest: str | Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp-{secrets.token_hex(6)}")
        try:
            with self._errors(key):
                self.client.download_file(self.bucket, self._full(key), str(tmp))
            os.replace(tmp, dest)
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
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root + prefix):
                keys.extend(item["Key"][len(root) :] for item in page.get("Contents", []))
        return iter(sorted(keys))

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        self._expiry(expires_in)
        with self._errors(key):
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._full(key)}, ExpiresIn=expires_in
            )
