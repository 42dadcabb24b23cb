"""Reading surveys: the three formats, and every kind of bad input with its line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jobgraph.analytics.survey import Scale, SurveyError, WideMapping, read_survey
from jobgraph.errors import UserError

LONG = """respondent_id,outcome_id,importance,satisfaction,region,persona
r1,outcome.a,5,2,north,persona.p
r1,outcome.b,3,4,north,persona.p
r2,outcome.a,4,1,south,
r2,outcome.b,,5,south,
"""


def write(tmp_path: Path, text: str, name: str = "s.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_long_format(tmp_path: Path) -> None:
    sv = read_survey(write(tmp_path, LONG), "long")
    assert sv.outcome_ids == ("outcome.a", "outcome.b")
    assert list(sv.respondent_ids) == ["r1", "r2"]
    assert sv.persona_column == "persona"
    assert sv.attributes.loc["r1", "region"] == "north"
    assert np.isnan(sv.importance[3])
    assert sv.rated_both().sum() == 3


def test_wide_format_finds_pairs_by_name(tmp_path: Path) -> None:
    text = (
        "respondent_id,outcome.a:importance,outcome.a:satisfaction,q2_imp,q2_sat,plan\n"
        "r1,5,2,4,4,gold\nr2,4,1,2,5,basic\n"
    )
    sv = read_survey(write(tmp_path, text), "wide")
    assert sv.outcome_ids == ("outcome.a", "q2")
    assert list(sv.attributes.columns) == ["plan"]
    assert sv.importance.tolist() == [5, 4, 4, 2]


def test_wide_format_with_mapping(tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        'respondent_id = "id"\n[outcomes."outcome.a"]\nimportance = "Q1"\nsatisfaction = "Q2"\n'
    )
    sv = read_survey(
        write(tmp_path, "id,Q1,Q2\nx,5,1\ny,1,1\n"), "wide", mapping=WideMapping.read(mapping)
    )
    assert sv.outcome_ids == ("outcome.a",)
    assert sv.n_respondents == 2


QUALTRICS = (
    "StartDate,EndDate,Status,Finished,ResponseId,Q1_1,Q1_2,region\n"
    '"Start Date","End Date","Response Type","Finished","Response ID",'
    '"How important is it to you to ... - Minimize the time","How satisfied ...","Region"\n'
    '"{""ImportId"":""startDate""}","{""ImportId"":""endDate""}","{""ImportId"":""status""}",'
    '"{""ImportId"":""finished""}","{""ImportId"":""_recordId""}","{""ImportId"":""QID1_1""}",'
    '"{""ImportId"":""QID1_2""}","{""ImportId"":""region""}"\n'
    "2026-01-01,2026-01-01,0,1,R_1,5,2,north\n"
    "2026-01-01,2026-01-01,0,0,R_2,1,1,south\n"
    "2026-01-01,2026-01-01,0,1,R_3,4,4,south\n"
)


def test_qualtrics_export(tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        'respondent_id = "ResponseId"\n[outcomes."outcome.a"]\n'
        'importance = "Q1_1"\nsatisfaction = "Q1_2"\n'
    )
    sv = read_survey(write(tmp_path, QUALTRICS), "qualtrics", mapping=WideMapping.read(mapping))
    assert list(sv.respondent_ids) == ["R_1", "R_3"]
    assert list(sv.attributes.columns) == ["region"]
    assert any("1 unfinished" in n for n in sv.notes)


def test_qualtrics_without_its_header_rows_is_named(tmp_path: Path) -> None:
    with pytest.raises(SurveyError, match="not a Qualtrics export"):
        read_survey(write(tmp_path, LONG), "qualtrics")


def problems(tmp_path: Path, text: str, fmt: str = "long", **kw: object) -> list[str]:
    with pytest.raises(SurveyError) as caught:
        read_survey(write(tmp_path, text), fmt, **kw)  # type: ignore[arg-type]
    return caught.value.problems


def test_ratings_out_of_scale_and_not_numbers(tmp_path: Path) -> None:
    found = problems(tmp_path, LONG.replace("r1,outcome.a,5,2", "r1,outcome.a,7,two"))
    assert found[0].startswith("s.csv:2: column 'importance': 7 is outside the scale 1-5")
    assert found[1].startswith("s.csv:2: column 'satisfaction': 'two' is not a number")
    # the same file is fine on a 1-7 scale apart from the text
    assert (
        len(
            problems(
                tmp_path,
                LONG.replace("r1,outcome.a,5,2", "r1,outcome.a,7,two"),
                scale=Scale.parse("1-7"),
            )
        )
        == 1
    )


def test_fractional_rating_is_refused(tmp_path: Path) -> None:
    assert "outside the scale" in problems(tmp_path, LONG.replace(",5,2,", ",4.5,2,"))[0]


def test_missing_columns(tmp_path: Path) -> None:
    [p] = problems(tmp_path, "respondent_id,outcome,importance\nr1,a,5\n")
    assert "missing column(s) outcome_id, satisfaction" in p
    wide = problems(tmp_path, "respondent_id,plan\nr1,gold\n", "wide")
    assert any("no outcome column pairs" in p for p in wide)


def test_duplicate_pairs_name_both_lines(tmp_path: Path) -> None:
    [p] = problems(tmp_path, LONG + "r1,outcome.a,4,4,north,persona.p\n")
    assert p == (
        "s.csv:6: respondent 'r1' rated outcome 'outcome.a' already on line 2; keep "
        "one answer per respondent and outcome"
    )


def test_respondent_with_conflicting_attributes(tmp_path: Path) -> None:
    found = problems(tmp_path, LONG.replace("r1,outcome.b,3,4,north", "r1,outcome.b,3,4,east"))
    assert any("'r1' has different attribute values on lines 2, 3" in p for p in found)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="the file is empty"):
        read_survey(write(tmp_path, "\n\n"), "long")
    with pytest.raises(UserError, match="header but no responses"):
        read_survey(write(tmp_path, "respondent_id,outcome_id,importance,satisfaction\n"))


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    text = LONG.replace("north", "Zürich")
    with pytest.raises(UserError, match=r"s\.csv:2: not utf-8 text .* --encoding"):
        read_survey(write(tmp_path, text, encoding="latin-1"))
    sv = read_survey(write(tmp_path, text, encoding="latin-1"), encoding="latin-1")
    assert sv.attributes.loc["r1", "region"] == "Zürich"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        read_survey(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1-5", Scale(1, 5, 4)), ("1-7", Scale(1, 7, 6)), ("0-10", Scale(0, 10, 9))],
)
def test_scale_defaults_to_top_two_box(text: str, expected: Scale) -> None:
    assert Scale.parse(text) == expected


def test_bad_scale_and_threshold() -> None:
    with pytest.raises(UserError, match="not a range"):
        Scale.parse("5")
    with pytest.raises(UserError, match="within the scale 1-5"):
        Scale.parse("1-5", top_box=6)


def test_blank_lines_and_multiline_fields_keep_true_line_numbers(tmp_path: Path) -> None:
    text = (
        "respondent_id,outcome_id,importance,satisfaction,note\n"
        'r1,o1,5,2,"a note\nover two lines"\n'
        "\n"
        "r2,o1,9,2,x\n"
    )
    [p] = problems(tmp_path, text)
    assert p.startswith("s.csv:5: column 'importance': 9 is outside the scale")


def test_ragged_rows_are_refused_with_their_line(tmp_path: Path) -> None:
    text = "respondent_id,outcome_id,importance,satisfaction\nr1,o1,5,2,\nr2,o1,4\n"
    found = problems(tmp_path, text)
    assert found[0].startswith("s.csv:2: 5 fields, but the header has 4")
    assert found[1].startswith("s.csv:3: 3 fields, but the header has 4")


def test_duplicate_column_names_are_refused(tmp_path: Path) -> None:
    text = "respondent_id,outcome_id,importance,satisfaction,importance\nr1,o1,5,2,3\n"
    [p] = problems(tmp_path, text)
    assert "'importance' appear more than once" in p


def test_wide_half_pair_is_an_error_not_an_attribute(tmp_path: Path) -> None:
    text = "respondent_id,o1:importance,o1:satisfation,Q2_Imp,q2_sat,plan\nr1,5,2,4,4,gold\n"
    found = problems(tmp_path, text, "wide")
    assert any("'o1:importance' looks like the importance of outcome 'o1'" in p for p in found)
    text_ok = "respondent_id,Q2_Imp,q2_sat,plan\nr1,4,4,gold\n"
    sv = read_survey(write(tmp_path, text_ok), "wide")
    assert sv.outcome_ids == ("Q2",)


def test_qualtrics_line_numbers_after_unfinished_rows(tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[outcomes."outcome.a"]\nimportance = "Q1_1"\nsatisfaction = "Q1_2"\n')
    bad = QUALTRICS.replace("R_3,4,4,south", "R_3,9,4,south")
    with pytest.raises(SurveyError) as caught:
        read_survey(write(tmp_path, bad), "qualtrics", mapping=WideMapping.read(mapping))
    assert caught.value.problems[0].startswith("s.csv:6: column 'Q1_1': 9 is outside")


def test_qualtrics_question_text_with_a_line_break(tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[outcomes."outcome.a"]\nimportance = "Q1_1"\nsatisfaction = "Q1_2"\n')
    text = QUALTRICS.replace('"How satisfied ..."', '"How satisfied\n are you?"')
    sv = read_survey(write(tmp_path, text), "qualtrics", mapping=WideMapping.read(mapping))
    assert list(sv.respondent_ids) == ["R_1", "R_3"]
