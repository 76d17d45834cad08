"""The committed JSON Schemas are exactly what the models export, and they accept what the models accept."""

import json

import jsonschema
import pytest
import yaml

from cues.pipelines.generate.brief_sources import EXAMPLES_DIR
from cues.schemas.export import SCHEMA_DIR, rendered

SCHEDULE_EXAMPLES = SCHEMA_DIR / "schedule-examples"


@pytest.mark.parametrize("name", sorted(rendered()))
def test_committed_schema_matches_the_models(name):
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert committed == rendered()[name], f"schemas/{name} is stale: run `make schemas`"


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted(EXAMPLES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_example_briefs_pass_the_editor_schema(path):
    check = validator("brief.schema.json")
    for document in yaml.safe_load_all(path.read_text()):
        check.validate(document)


@pytest.mark.parametrize("path", sorted(SCHEDULE_EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_schedules_pass_the_editor_schema(path):
    validator("schedule.schema.json").validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize(
    "document",
    [
        {"medium": "film", "mood": "tense", "length": 30, "lenght": 3},
        {"medium": "film", "mood": "tence", "length": 30},
        {"medium": "film", "mood": "tense", "length": "thirty"},
        {"medium": "film", "mood": "tense"},
        {"briefs": [], "defaults": {}},
    ],
)
def test_editor_schema_flags_bad_briefs(document):
    assert list(validator("brief.schema.json").iter_errors(document))
