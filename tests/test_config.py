import pytest

from streamseg.config import Config, as_dict, load_config
from streamseg.errors import UsageError


def test_defaults_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("output:\n  crf: 30\nsource:\n  max_frames: 5\n")
    config = load_config(
        path,
        [
            "output.alpha=0.25",
            "source.max_frames=null",
            "model.name=classic",
            "output.overlay=false",
        ],
    )
    assert config.output.crf == 30
    assert config.output.alpha == 0.25
    assert config.source.max_frames is None
    assert config.model.name == "classic"
    assert config.output.overlay is False
    assert as_dict(config)["output"]["crf"] == 30


def test_int_given_for_float_is_accepted():
    assert load_config(None, ["output.alpha=1"]).output.alpha == 1.0


@pytest.mark.parametrize(
    "item, message",
    [
        ("nosuch.key=1", "unknown config section 'nosuch'"),
        ("output.nosuch=1", "unknown config key 'nosuch' in 'output.nosuch'; output has"),
        ("output=1", "whole section"),
        ("output.crf=high", "bad value 'high' for output.crf"),
        ("output.overlay=3", "bad value 3 for output.overlay"),
        ("output.crf", "expected section.key=value"),
    ],
)
def test_bad_overrides(item, message):
    with pytest.raises(UsageError, match=message):
        load_config(None, [item])


def test_config_files_in_repo_load():
    from pathlib import Path

    for path in sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")):
        load_config(path)


def test_default_yaml_matches_the_code():
    from pathlib import Path

    import yaml

    from streamseg.config import Config, as_dict

    path = Path(__file__).parents[1] / "configs" / "default.yaml"
    fix = "run: python scripts/write_default_config.py"
    assert load_config(path) == Config(), fix
    # every setting is in the file (a missing one would load as its default unseen)
    as_yaml = yaml.safe_load(yaml.safe_dump(as_dict(Config())))  # tuples read back as lists
    assert yaml.safe_load(path.read_text()) == as_yaml, fix


@pytest.mark.parametrize(
    "override",
    [
        "sam.mask_prompt=bogus",
        "tracker.flow_scale=0",
        "tracker.flow_preset=slowest",
        "classic.margin=-1",
        "classic.guide_subsample=0",
        "classic.bg_gap=0.25",
        "classic.init.work_size=4",
        "tracker.prior.clip=.nan",
        "gaze.mode=stare",
        "gaze.tolerance=-1",
        "inpaint.method=magic",
        "output.alpha=2",
        "source.fps=0",
        "model.dtype=float8",
    ],
)
def test_every_section_refuses_a_bad_value_before_any_work(override):
    config = load_config(None, [override])  # --set writes the field as given...
    with pytest.raises(UsageError):
        config.validate()  # ...and the whole tree is checked before a run starts


def test_stages_leave_the_config_as_given(clip):
    from streamseg.session import Session

    config = Config()
    before = as_dict(config)
    with Session(str(clip[0]), ["80,60"], config) as session:
        results = list(session)
    assert len(results) == 24 and as_dict(config) == before
    assert session.engine_meta["name"] == "classic"  # what was resolved is in the metadata
    assert session.metadata()["engine"]["requested"] == "auto"
