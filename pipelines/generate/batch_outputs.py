"""A batch's folder in the store: ``batch.json``, ``cuesheet.csv``, ``report.html``, then ``_SUCCESS`` last.

``_SUCCESS`` means every cue of the batch is either delivered or reported failed in ``batch.json``; it is written
after everything else, so a reader that sees it sees the whole batch. The report links each cue's files relative to
itself in a local store (open the file; it also works after ``aws s3 sync``), and with presigned URLs in an S3
store (valid for :data:`REPORT_LINK_SECONDS`; ``cues report`` makes fresh ones).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from cues.pipelines.report.cuesheet import cuesheet_csv
from cues.pipelines.report.report_html import relative_link, report_html
from cues.pipelines.store import ObjectStore
from cues.schemas.batch import BatchRecord, read_batch_record
from cues.schemas.errors import IntegrityError, StoreError, StoreNotFound
from cues.schemas.manifest import CueManifest, download_name_of_key, read_manifest

log = logging.getLogger(__name__)

REPORT_LINK_SECONDS = 7 * 24 * 3600  # SigV4's longest validity


def cue_manifests(
    store: ObjectStore, record: BatchRecord, on_unreadable: Callable[[StoreError], None] | None = None
) -> dict[str, CueManifest]:
    """The manifest of every delivered cue of ``record``, by cue id. A manifest that is missing or damaged goes to
    ``on_unreadable`` and is left out (the report gives that cue a card saying so); without it, it raises."""
    manifests = {}
    for result in record.delivered:
        key = f"{result.prefix}/manifest.json"
        try:
            manifests[result.cue_id] = read_manifest(store.get_bytes(key), store.uri_for(key))
        except (IntegrityError, StoreNotFound) as error:
            if on_unreadable is None:
                raise
            on_unreadable(error)
    return manifests


def store_link(store: ObjectStore, report_key: str):
    """How the report at ``report_key`` links a store key: relative path (local) or presigned URL (S3)."""
    if store.location.scheme == "file":
        return relative_link(report_key)
    return lambda key: store.presigned_url(key, REPORT_LINK_SECONDS, filename=download_name_of_key(key))


def write_report(store: ObjectStore, record: BatchRecord, manifests: dict[str, CueManifest]) -> str:
    """Write ``report.html`` of ``record``; returns its key."""
    key = f"{record.folder}/report.html"
    html = report_html(record, manifests, store_link(store, key))
    store.put_bytes(key, html.encode(), content_type="text/html; charset=utf-8")
    return key


def write_batch(store: ObjectStore, record: BatchRecord) -> BatchRecord:
    """Write the batch folder of ``record``, ``_SUCCESS`` last; returns the record written: ``record`` as the
    latest run of the batch, after the runs of the record already stored (a re-submit keeps the first summary)."""
    record = record.after(_stored_record(store, record.key))
    folder = record.folder
    store.delete(f"{folder}/_SUCCESS")  # a re-run: the folder is incomplete until this run's outputs are in
    manifests = cue_manifests(store, record)
    store.put_bytes(record.key, record.model_dump_json(indent=2).encode(), content_type="application/json")
    prefixes = {r.cue_id: r.prefix for r in record.delivered}
    cuesheet = cuesheet_csv([manifests[c] for c in prefixes], prefixes)
    store.put_bytes(f"{folder}/cuesheet.csv", cuesheet.encode(), content_type="text/csv; charset=utf-8")
    write_report(store, record, manifests)
    summary = {
        "batch_id": record.batch_id,
        "status": record.status,
        "cues": len(record.results),
        "failed": len(record.failed_cues),
        "invalid_briefs": len(record.failures),
    }
    store.put_bytes(f"{folder}/_SUCCESS", json.dumps(summary).encode(), content_type="application/json")
    return record


def _stored_record(store: ObjectStore, key: str) -> BatchRecord | None:
    """The batch record at ``key``, if there is one that reads (a damaged one is replaced, with a warning)."""
    try:
        return read_batch_record(store.get_bytes(key), store.uri_for(key))
    except StoreNotFound:
        return None
    except IntegrityError as error:
        log.warning("replacing a damaged batch record (its earlier runs are lost): %s", error)
        return None
