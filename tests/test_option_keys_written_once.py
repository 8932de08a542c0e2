"""Each option key is a string literal in at most one non-test source file per
language (the option table for Python; the generated header for C++, which is
not in the tree): everything else names keys through the table's constants."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Dict, List

from executorch_tensorrt.option_table import OPTIONS

REPO = Path(__file__).resolve().parent.parent
LANGUAGES = {".py": "Python", ".cpp": "C++", ".h": "C++", ".cc": "C++", ".cu": "C++"}


def _sources() -> Dict[Path, str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return {
        REPO / name: LANGUAGES[Path(name).suffix]
        for name in listed.split()
        if Path(name).suffix in LANGUAGES and not name.startswith("tests/")
    }


def test_every_key_is_a_literal_in_at_most_one_file_per_language() -> None:
    sources = {path: (language, path.read_text(encoding="utf-8")) for path, language in _sources().items()}
    assert any(path.name == "option_table.py" for path in sources), "the scan missed the option table"
    repeated: List[str] = []
    for option in OPTIONS:
        literal = re.compile(r"""(["'])%s\1""" % re.escape(option.key))
        for language in sorted(set(LANGUAGES.values())):
            files = [p for p, (lang, text) in sources.items() if lang == language and literal.search(text)]
            if len(files) > 1:
                repeated.append(f"{option.key!r} in {language}: " + ", ".join(str(p.relative_to(REPO)) for p in files))
    assert not repeated, "option keys written in several files (use the table's KEY_* / kOption* constants):\n" + "\n".join(repeated)
