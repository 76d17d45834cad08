"""Export the JSON Schemas of the contracts: ``python -m cues.schemas.export [--check]``.

Briefs and schedules (what users write; editors use the schemas for completion), and the cue manifest and batch
record (what the system writes; readers in other languages validate against them).

The committed ``*.schema.json`` files are generated from the pydantic models; a test fails when they drift.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

from cues.schemas.batch import BatchRecord
from cues.schemas.brief import Brief
from cues.schemas.manifest import CueManifest
from cues.schemas.schedule import Schedule

SCHEMA_DIR = Path(__file__).parent
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def brief_file_schema() -> dict[str, Any]:
    """Schema of a brief file: one brief, or a batch of briefs with ``defaults:`` (brief fields, none required)."""
    brief = Brief.model_json_schema()
    defs = brief.pop("$defs", {})
    defs["Brief"] = brief
    defaults = copy.deepcopy(brief)
    defaults.pop("required", None)
    defaults["title"] = "Brief defaults"
    defaults["description"] = "Fields merged under every brief of the batch; the brief's own value wins."
    defs["BriefDefaults"] = defaults
    batch = {
        "title": "Batch of briefs",
        "type": "object",
        "properties": {
            "version": {"const": 1},
            "defaults": {"$ref": "#/$defs/BriefDefaults"},
            # Items may leave out what defaults: gives, so they are checked without required fields here.
            "briefs": {"type": "array", "items": {"$ref": "#/$defs/BriefDefaults"}, "minItems": 1},
        },
        "required": ["briefs"],
        "additionalProperties": False,
    }
    return {
        "$schema": DIALECT,
        "$id": "https://cues.dev/schemas/brief-v1.schema.json",
        "title": "cues brief file v1",
        "description": "One scoring brief, or a batch: briefs: [...] with optional defaults:.",
        "anyOf": [{"$ref": "#/$defs/Brief"}, {"$ref": "#/$defs/Batch"}],
        "$defs": {**defs, "Batch": batch},
    }


def schedule_schema() -> dict[str, Any]:
    schema = Schedule.model_json_schema()
    return {"$schema": DIALECT, "$id": "https://cues.dev/schemas/schedule-v1.schema.json", **schema}


def manifest_schema() -> dict[str, Any]:
    schema = CueManifest.model_json_schema()
    return {"$schema": DIALECT, "$id": "https://cues.dev/schemas/manifest.schema.json", **schema}


def batch_record_schema() -> dict[str, Any]:
    schema = BatchRecord.model_json_schema()
    return {"$schema": DIALECT, "$id": "https://cues.dev/schemas/batch.schema.json", **schema}


SCHEMAS = {
    "brief.schema.json": brief_file_schema,
    "schedule.schema.json": schedule_schema,
    "manifest.schema.json": manifest_schema,
    "batch.schema.json": batch_record_schema,
}


def rendered() -> dict[str, str]:
    """File name → exact text that should be committed."""
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in SCHEMAS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files differ")
    args = parser.parse_args(argv)
    stale = []
    for name, text in rendered().items():
        path = SCHEMA_DIR / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale: {', '.join(stale)}; run: python -m cues.schemas.export", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
