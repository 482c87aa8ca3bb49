"""Sign a file with C2PA content credentials, as a camera or a generator would (tests only).

A throwaway certificate authority and signer (ES256) made with `cryptography`; c2pa reports such a signer
as valid but untrusted, since it is on no trust list."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNER_ORG, SIGNER_NAME = "Test Camera Co", "Test Signer"
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAMERA_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4"}


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, SIGNER_ORG),
        ]
    )


def _usage(signs_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signs_certs,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certs,
        crl_sign=signs_certs,
        encipher_only=False,
        decipher_only=False,
    )


@cache
def signer_pems() -> tuple[bytes, bytes]:
    """(signer certificate + CA certificate, signer private key), PEM."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def certificate(subject: str, public_key, ca: bool, serial: int):
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name("Test Root CA"))
            .public_key(public_key)
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(_usage(signs_certs=ca), critical=True)
        )
        if not ca:
            builder = (
                builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
            )
        return builder.sign(ca_key, hashes.SHA256())

    ca = certificate("Test Root CA", ca_key.public_key(), True, 1)
    leaf = certificate(SIGNER_NAME, key.public_key(), False, 2)
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, private


def sign(
    source: Path,
    target: Path,
    generator: str = "Imaginary Diffusion",
    version: str = "2.1",
    source_type: str = AI_SOURCE,
) -> Path:
    """`source` with a signed manifest: made by `generator` (`version`), of IPTC `source_type`."""
    chain, key = signer_pems()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=key, ta_url=None))
    manifest = {
        "claim_generator_info": [{"name": generator, "version": version}],
        "title": source.name,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": source_type,
                            "softwareAgent": {"name": generator, "version": version},
                        }
                    ]
                },
            }
        ],
    }
    with c2pa.Builder(json.dumps(manifest)) as builder, open(source, "rb") as src, open(target, "wb") as dst:
        builder.sign(signer, MIME[source.suffix.lower()], src, dst)
    return target
