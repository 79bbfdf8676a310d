"""openpyxl reads uploaded .xlsx files through defusedxml (entity expansion and external entities refused);
defusedxml is a direct dependency so that no change in pysaml2's dependencies takes it away."""

import tomllib
from pathlib import Path

from django.conf import settings


def test_defusedxml_is_a_direct_dependency_and_openpyxl_uses_it():
    import openpyxl.xml

    project = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text(encoding="utf-8"))
    names = {
        dependency.split("==")[0].split(">")[0].strip().lower()
        for dependency in project["project"]["dependencies"]
    }
    assert "defusedxml" in names
    assert openpyxl.xml.DEFUSEDXML is True
