"""Every relative link in README.md and docs/*.md reaches an existing file, and every #anchor a heading of the
page it points to (GitHub's anchors: lowercase, punctuation removed, spaces to '-', repeats numbered)."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"#{1,6} +(.+?) *#* *$")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks (a bash block's "# comment" is no heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text (links as their text), lowercase, punctuation dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in _prose(page.read_text()):
        if heading := HEADING.fullmatch(line):
            base = slug(heading[1])
            found.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return found


def broken_links(root: Path) -> list[str]:
    """ "page: target" for each relative link whose file or anchor does not exist."""
    broken = []
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for line in _prose(page.read_text()):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                    continue
                path, _, anchor = target.partition("#")
                linked = (page.parent / path).resolve() if path else page
                if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
                    broken.append(f"{page.relative_to(root)}: {target}")
    return broken


def test_every_relative_link_and_anchor_in_the_docs_resolves() -> None:
    assert broken_links(PROJECT_ROOT) == []


def test_slug_follows_github() -> None:
    assert slug("Results on the demo corpus (one CPU run of `make demo`, seed 42)") == (
        "results-on-the-demo-corpus-one-cpu-run-of-make-demo-seed-42"
    )
    assert slug("The `all` profile: every dev set trains, and leave-one-dataset-out") == (
        "the-all-profile-every-dev-set-trains-and-leave-one-dataset-out"
    )


def test_a_missing_file_or_heading_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Twice\n\n## Twice\n\n```bash\n# not a heading\n```\n")
    links = "[ok](docs/a.md#twice-1) [gone](docs/b.md) [no](docs/a.md#not-a-heading) [web](https://x.org/#y)"
    (tmp_path / "README.md").write_text(f"# Readme\n\n{links} [self](#readme)\n")
    assert broken_links(tmp_path) == ["README.md: docs/b.md", "README.md: docs/a.md#not-a-heading"]


def test_code_points_to_docs_that_exist() -> None:
    """Comments and messages in the code that name a docs page (docs/serving.md#manipulation-method)."""
    named = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")
    broken = []
    for folder in ("src", "stages", "scripts", "benchmarks"):  # not tests/: they write pages of their own
        for source in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for page, anchor in named.findall(source.read_text()):
                linked = PROJECT_ROOT / "docs" / page
                if not linked.exists() or (anchor and anchor not in anchors(linked)):
                    broken.append(f"{source.relative_to(PROJECT_ROOT)}: docs/{page}#{anchor}")
    assert broken == []
