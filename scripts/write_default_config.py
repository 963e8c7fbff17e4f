"""Write configs/default.yaml: every setting with its default value.

    python scripts/write_default_config.py

tests/test_config.py checks that the file matches the code's defaults.
"""

from pathlib import Path

import yaml

from streamseg.config import Config, as_dict

HEADER = """\
# Every setting of `streamseg run`, at its default. Copy what you change into your own
# file and pass it with --config, or override one value with --set section.key=value.
# Regenerate with: python scripts/write_default_config.py
"""

if __name__ == "__main__":
    path = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    path.write_text(HEADER + yaml.safe_dump(as_dict(Config()), sort_keys=False))
