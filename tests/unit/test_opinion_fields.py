"""The decision document's opinions: the engine's own converter against protobuf's."""

from __future__ import annotations

from google.protobuf.json_format import MessageToDict

from neural_hive.proto import specialist_pb2 as pb
from neural_hive.specialist.convert import opinion_fields


def test_an_opinion_with_every_field_set_reads_as_protobuf_renders_it() -> None:
    """A field added to the proto and forgotten here fails this test."""
    o = pb.SpecialistOpinion(
        confidence_score=0.81,
        risk_score=0.35,
        recommendation="conditional",
        reasoning_summary="retries without backoff",
        reasoning_factors=[
            pb.ReasoningFactor(factor_name="blast_radius", weight=0.4, score=0.7, description="d")
        ],
        explainability=pb.ExplainabilityInfo(
            method="weighted_factor_contribution",
            feature_importances=[pb.FeatureImportance(feature_name="blast_radius", importance=1)],
            model_version="1.2.0",
            model_type="deterministic_rules",
        ),
        mitigations=[
            pb.MitigationSuggestion(
                mitigation_id="m1",
                description="add backoff",
                priority="high",
                estimated_impact=0.3,
                required_actions=["a", "b"],
            )
        ],
        metadata={"k": "v"},
    )
    assert opinion_fields(o) == MessageToDict(o, preserving_proto_field_name=True)


def test_fields_at_their_default_are_kept_so_the_document_keeps_its_shape() -> None:
    got = opinion_fields(pb.SpecialistOpinion(recommendation="approve"))
    assert got["risk_score"] == 0.0
    assert got["mitigations"] == []
    assert got["metadata"] == {}
    assert got["explainability"]["feature_importances"] == []
