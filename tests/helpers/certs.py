"""Test certificates made with openssl: self-signed, or signed by a test CA."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_cert(out: Path, name: str, ca: str | None = None) -> tuple[str, str]:
    """(cert, key) paths; self-signed when ``ca`` (a name made before) is None."""
    cert, key = str(out / f"{name}.pem"), str(out / f"{name}.key")
    ext = out / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    key_args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subj = ["-subj", f"/CN={name}"]
    if ca is None:
        openssl("req", "-x509", *key_args, "-keyout", key, "-out", cert, "-days", "2", *subj,
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")  # fmt: skip
    else:
        csr = str(out / f"{name}.csr")
        openssl("req", *key_args, "-keyout", key, "-out", csr, *subj)
        openssl("x509", "-req", "-in", csr, "-CA", str(out / f"{ca}.pem"), "-CAkey",
                str(out / f"{ca}.key"), "-CAcreateserial", "-out", cert, "-days", "2",
                "-extfile", str(ext))  # fmt: skip
    return cert, key
