"""The Transformers4Rec schema, derived from the NVTabular workflow's output schema.

The tutorial read a hand-written ``schema.pb`` that is no longer shipped. The item-id list
needs the ITEM_ID tag and the timestamp lists the CONTINUOUS tag, or the model has no
target and continuous_projection nothing to project (stack-facts.md).
"""

from __future__ import annotations

import json
from pathlib import Path

FEATURES = ("item_id-list_trim", "category-list_trim",
            "timestamp/weekday/sin-list_trim", "timestamp/age_days-list_trim")
ITEM_ID = "item_id-list_trim"
CONTINUOUS = ("timestamp/weekday/sin-list_trim", "timestamp/age_days-list_trim")


def tag(output_schema):
    """Select the four sequence features and add the tags the model needs (merlin.schema)."""
    from merlin.schema import Schema, Tags

    cols = []
    for col in output_schema.select_by_name(list(FEATURES)):
        if col.name == ITEM_ID:
            col = col.with_tags([Tags.ITEM_ID, Tags.ITEM, Tags.ID])
        elif col.name in CONTINUOUS:
            col = col.with_tags([Tags.CONTINUOUS])
        cols.append(col)
    return Schema(cols)


def run(workflow_path: Path):
    """Load the saved workflow and return its tagged schema as a Transformers4Rec Schema."""
    import nvtabular as nvt
    from merlin.schema.io.tensorflow_metadata import TensorflowMetadata
    from merlin_standard_lib import Schema as T4RecSchema

    workflow = nvt.Workflow.load(str(workflow_path))
    tagged = tag(workflow.output_schema)
    missing = set(FEATURES) - set(tagged.column_names)
    if missing:
        raise ValueError(f"workflow output lacks {sorted(missing)}")
    return T4RecSchema().from_json(to_t4rec_json(TensorflowMetadata.from_merlin_schema(tagged).to_json()))


def to_t4rec_json(tf_metadata_json: str) -> str:
    """betterproto cannot parse ``extraMetadata`` (a list of protobuf Any); move it into
    ``comment`` as Transformers4Rec's own converter does."""
    doc = json.loads(tf_metadata_json)
    for feature in doc.get("feature", []):
        annotation = feature.get("annotation", {})
        extra = annotation.pop("extraMetadata", None)
        if extra:
            annotation["comment"] = [json.dumps(extra[0])]
    return json.dumps(doc)
