"""`kaggle`: a Kaggle dataset ("<owner>/<dataset>") or competition ("competitions/<name>") through the
`kaggle` package (imported only here, so it is not a dependency of the pipeline), into
`<cache_dir>/kaggle/<owner>__<dataset>/`. A re-run with that folder present downloads nothing."""

from __future__ import annotations

import os
from pathlib import Path

from deepfake_detector.config import SourceConfig
from deepfake_detector.data.sources.base import SourceError, cache_dir, check_reachable, dataset_root, extract
from deepfake_detector.io import atomic_dir

OFFLINE_FIX = "Download it from its Kaggle page by hand, unpack it and use a 'local' source."


def acquire(source: SourceConfig, project_root: Path) -> Path:
    slug = str(source.kaggle).strip("/")
    target = cache_dir(source, project_root, "kaggle") / slug.replace("/", "__")
    if target.is_dir():
        return dataset_root(target)
    what = f"kaggle source '{slug}'"
    _check_credentials(what)
    api_class = _import_api(what)
    check_reachable("www.kaggle.com", what, OFFLINE_FIX)  # before authenticating: that may call the API too
    api = _authenticate(api_class, what)
    with atomic_dir(target) as tmp:
        _download(api, slug, tmp, what)
        for archive in tmp.glob("*.zip"):  # competitions come as one zip; datasets too when not unzipped
            extract(archive, tmp)
            archive.unlink()
    return dataset_root(target)


def _check_credentials(what: str) -> None:
    """The kaggle package accepts an API token (env or file) or a legacy username/key (env or kaggle.json)."""
    folder = Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle"))
    files = [folder / "kaggle.json", folder / "access_token"]
    env = os.environ.get("KAGGLE_API_TOKEN") or (os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"))
    if env or any(f.exists() for f in files):
        return
    raise SourceError(
        f"{what}: no Kaggle credentials. Create an API token on your Kaggle account settings page and save it "
        f"as {files[0]} (chmod 600), or set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN). {OFFLINE_FIX}"
    )


def _import_api(what: str) -> type:
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError:
        raise SourceError(
            f"{what}: the 'kaggle' package is not installed (pip install kaggle). {OFFLINE_FIX}"
        ) from None
    return KaggleApi


def _authenticate(api_class: type, what: str):
    api = api_class()
    try:
        api.authenticate()
    except (Exception, SystemExit) as err:  # bad credentials: plain errors, or exit(1) in recent versions
        raise SourceError(f"{what}: Kaggle rejected the credentials ({err!r}). {OFFLINE_FIX}") from None
    return api


def _download(api, slug: str, dest: Path, what: str) -> None:
    try:
        if slug.startswith("competitions/"):
            api.competition_download_files(slug.split("/", 1)[1], path=str(dest), quiet=False)
        else:
            api.dataset_download_files(slug, path=str(dest), unzip=False, quiet=False)
    except Exception as err:  # HTTP errors carry the reason (403: rules of the competition not accepted)
        raise SourceError(
            f"{what}: download failed ({err}). For a competition, accept its rules on its Kaggle page first. "
            f"{OFFLINE_FIX}"
        ) from None
