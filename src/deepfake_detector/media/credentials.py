"""Content credentials: the C2PA manifest a camera or an editing/generating tool signed into a file (c2pa-python).

Reported next to the model's verdict, never mixed into it: a signed claim is what its signer says, checked by
its signature, not evidence the model weighed. `status` is c2pa's validation state: "valid" (the signature and
the file's hashes check out; the signer is named but not trusted, as no trust list is configured), "trusted"
(it chains to a configured trust anchor), "invalid" (the file changed after signing, or the signature fails);
or ours: "none" (the file carries no credentials) and "unreadable" (it carries a manifest c2pa cannot read)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import c2pa

# the IPTC digital source types that say a generator made (part of) the content
GENERATED_SOURCE_TYPES = (
    "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia",
    "algorithmicMedia",
    "compositeSynthetic",
)


@dataclass(frozen=True)
class ContentCredentials:
    status: str  # "none" | "valid" | "trusted" | "invalid" | "unreadable" (see the module docstring)
    message: str  # for the user: what the credentials say, or that there are none
    signer: str | None = None  # who signed the active manifest: the certificate's organisation / common name
    generator: str | None = None  # the tool that made the claim (claim_generator_info), e.g. "Camera app 2.1"
    digital_source_type: str | None = None  # the IPTC term of the creating action, e.g. trainedAlgorithmicMedia
    generated_by_ai: bool = False  # that term says a generator made the content (GENERATED_SOURCE_TYPES)
    problems: list[str] = field(default_factory=list)  # the failed validation codes, e.g. assertion.dataHash.mismatch


NO_CREDENTIALS = ContentCredentials("none", "no content credentials (C2PA) in this file")


def read_credentials(path: Path) -> ContentCredentials:
    """The file's active C2PA manifest, validated; NO_CREDENTIALS when it has none. Never raises."""
    try:
        with c2pa.Reader(str(path)) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return NO_CREDENTIALS
    except c2pa.C2paError.NotSupported:
        return ContentCredentials("none", "no content credentials: C2PA cannot carry them in this file's format")
    except (c2pa.C2paError, ValueError, OSError) as err:
        return ContentCredentials("unreadable", f"the file carries content credentials that cannot be read ({err})")
    return _summarise(store)


def _summarise(store: dict) -> ContentCredentials:
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    signature = manifest.get("signature_info", {})
    signer = " / ".join(part for part in (signature.get("issuer"), signature.get("common_name")) if part) or None
    tools = manifest.get("claim_generator_info") or [{"name": manifest.get("claim_generator")}]
    generator = " ".join(str(tools[0].get(key)) for key in ("name", "version") if tools[0].get(key)) or None
    source_type = _created_source_type(manifest)
    by_ai = source_type in GENERATED_SOURCE_TYPES
    status = str(store.get("validation_state", "invalid")).lower()
    problems = [
        item["code"] for item in store.get("validation_status", []) if item.get("code") != "signingCredential.untrusted"
    ]  # "untrusted" is status valid, not trusted
    said = f"signed by {signer or 'an unnamed signer'} with {generator or 'an unnamed tool'}"
    if by_ai:
        said += f"; it declares the content {source_type} (made by a generator)"
    if status == "invalid":
        message = (
            f"content credentials fail validation ({', '.join(problems) or 'signature'}): {said}, "
            "but the file no longer matches what was signed"
        )
    else:
        message = f"content credentials {said}" + (
            "" if status == "trusted" else " (the signer is not on a trust list)"
        )
    return ContentCredentials(status, message, signer, generator, source_type, by_ai, problems)


def _created_source_type(manifest: dict) -> str | None:
    """The short IPTC term of the first action that declares a digital source type, else None."""
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("digitalSourceType"):
                    return str(action["digitalSourceType"]).rstrip("/").rsplit("/", 1)[-1]
    return None
