"""Per-user TLS credentials: a certificate authority (CA), a service and a client certificate.

Created on first use on the machine where the services run, in ``~/.seamless/tls`` (0700):

============  ==========================================================================
``ca.pem``    the user's CA certificate; every service and client trusts exactly this CA
``ca.key``    its key; stays on that machine
``service.*`` certificate + key of every service (Dask scheduler, nannies, workers,
              hashserver, database, jobserver); they also use it as clients of each other
``client.*``  certificate + key of the user's own processes (``set_stage()`` and its clients);
              ``client.p12`` holds both for a browser (the Dask dashboard), no password
============  ==========================================================================

Keys are 0600. A client on another machine keeps a copy of ``ca.pem``, ``client.pem`` and
``client.key`` of a frontend in ``~/.seamless/tls/hosts/<host>/``, fetched over the SSH
connection it already uses (:func:`export_for_client` / :func:`store_client_copy`).

Identity is the certificate chain, as in ``distributed``: a peer is accepted when its certificate
is signed by the user's CA, whatever the host name (tunnels, ``0.0.0.0`` binds). Problems are a
:class:`CredentialError` that names the file and the command that renews the credentials.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import SeamlessError
from .private_files import private_dir, write_private

#: What users run to create the credentials anew (all certificates; services must be restarted).
RENEW_COMMAND = "seamless-services renew-credentials"
#: Years a CA is valid; days a service or client certificate is valid.
CA_YEARS = 10
LEAF_DAYS = 365
#: The files a client copy holds (``export_for_client``), by role.
CLIENT_FILES = ("ca.pem", "client.pem", "client.key")


class CredentialError(SeamlessError, RuntimeError):
    """A missing, unreadable, expired or foreign credential; the message names file and remedy."""

    def __init__(self, path: str | os.PathLike[str], problem: str, *, renew: str = RENEW_COMMAND):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"TLS credential {self.path}: {problem}. Create new credentials with `{renew}`")


def default_directory() -> Path:
    """``~/.seamless/tls`` of this machine's user."""
    return Path.home() / ".seamless" / "tls"


@dataclass(frozen=True)
class Credentials:
    """The credential files of one directory; ``role`` picks ``service`` or ``client`` files."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    def cert(self, role: str) -> Path:
        return self.directory / f"{_role(role)}.pem"

    def key(self, role: str) -> Path:
        return self.directory / f"{_role(role)}.key"

    def files(self, role: str) -> tuple[Path, Path, Path]:
        """(CA certificate, certificate, key) of ``role``."""
        return self.ca, self.cert(role), self.key(role)

    def present(self, role: str) -> bool:
        """Whether the files of ``role`` exist (a stat each: cheap enough for every reconnect)."""
        return all(p.is_file() for p in self.files(role))


def _role(role: str) -> str:
    if role not in ("service", "client"):
        raise ValueError(f"role must be 'service' or 'client', not {role!r}")
    return role


# --- creation ---------------------------------------------------------------------------------


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    user = os.environ.get("USER") or str(os.getuid())
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Seamless (per-user)"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} of {user}"),
    ])


def _sign(subject_key: Any, subject: Any, issuer_key: Any, issuer: Any, start: _dt.datetime,
          end: _dt.datetime, *, ca: bool, usages: list[Any]) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def create(directory: str | os.PathLike[str] | None = None, *, valid_from: _dt.datetime | None = None,
           leaf_days: int = LEAF_DAYS) -> Credentials:
    """Create a new CA and its service and client certificates in ``directory`` (replacing any).

    ``valid_from`` / ``leaf_days`` exist for tests of expiry; users get now and a year.
    """
    from cryptography.x509.oid import ExtendedKeyUsageOID

    creds = Credentials(private_dir(directory or default_directory()))
    start = (valid_from or _now()) - _dt.timedelta(minutes=5)
    ca_key = _new_key()
    ca_name = _name("Seamless CA")
    ca_cert = _sign(ca_key, ca_name, ca_key, ca_name, start, start + _dt.timedelta(days=365 * CA_YEARS),
                    ca=True, usages=[])
    leaves = {
        "service": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
    }
    # keys first, certificates last: a reader that finds ca.pem finds everything
    write_private(creds.ca_key, _key_pem(ca_key))
    for role, usages in leaves.items():
        key = _new_key()
        cert = _sign(key, _name(f"Seamless {role}"), ca_key, ca_name, start,
                     start + _dt.timedelta(days=leaf_days), ca=False, usages=usages)
        write_private(creds.key(role), _key_pem(key))
        write_private(creds.cert(role), _cert_pem(cert))
        if role == "client":
            write_private(creds.directory / "client.p12", _pkcs12(key, cert, ca_cert))
    write_private(creds.ca, _cert_pem(ca_cert))
    return creds


def _pkcs12(key: Any, cert: Any, ca_cert: Any) -> bytes:
    """The client certificate and key as PKCS#12, the form browsers import."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    return pkcs12.serialize_key_and_certificates(
        b"seamless client", key, cert, [ca_cert], serialization.NoEncryption()
    )


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(private_dir(directory) / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure(directory: str | os.PathLike[str] | None = None, role: str = "service") -> Credentials:
    """The credentials of ``directory`` (default ``~/.seamless/tls``), created if there are none.

    Concurrent callers (several services starting at once) create them once. The files of
    ``role`` are checked (:func:`verified`); a problem is a :class:`CredentialError`.
    """
    creds = Credentials(Path(directory or default_directory()))
    if not creds.ca.is_file():
        with _locked(creds.directory):
            if not creds.ca.is_file():
                create(creds.directory)
    return verified(creds, role)


def renew(directory: str | os.PathLike[str] | None = None) -> Credentials:
    """Replace all credentials of ``directory`` (under the creation lock)."""
    target = Path(directory or default_directory())
    with _locked(target):
        return create(target)


# --- checks -----------------------------------------------------------------------------------


def _load_cert(path: Path) -> Any:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise CredentialError(path, "missing") from None
    except PermissionError:
        raise CredentialError(path, "not readable by this user") from None
    except ValueError as exc:
        raise CredentialError(path, f"not a PEM certificate ({exc})") from None


def check_private(path: Path) -> None:
    """A key must exist and be readable by its owner only."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CredentialError(path, "missing") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialError(path, f"readable by other users (mode {stat.S_IMODE(mode):o}; must be 600)")


def check(creds: Credentials, role: str, *, now: _dt.datetime | None = None) -> _dt.datetime:
    """Raise :class:`CredentialError` unless ``role``'s files exist, are private, valid now and
    signed by the CA of the same directory, with the key that matches the certificate.

    Returns when the first of the certificates expires.
    """
    from cryptography.hazmat.primitives import serialization

    ca_path, cert_path, key_path = creds.files(role)
    ca = _load_cert(ca_path)
    cert = _load_cert(cert_path)
    check_private(key_path)
    moment = now or _now()
    for path, c in ((ca_path, ca), (cert_path, cert)):
        if c.not_valid_after_utc < moment:
            raise CredentialError(path, f"expired on {c.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
        if c.not_valid_before_utc > moment:
            raise CredentialError(path, f"not valid before {c.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    try:
        cert.verify_directly_issued_by(ca)
    except Exception as exc:  # InvalidSignature, ValueError, TypeError: no common base
        raise CredentialError(cert_path, f"not signed by the CA in {ca_path} (a foreign certificate: {type(exc).__name__})") from None
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialError(key_path, f"not a usable private key ({exc})") from None
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise CredentialError(key_path, f"does not belong to the certificate {cert_path}")
    return min(ca.not_valid_after_utc, cert.not_valid_after_utc)


def _signature(paths: tuple[Path, ...]) -> list[list[Any]]:
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            return []
        out.append([path.name, st.st_mtime_ns, st.st_size, st.st_ino, stat.S_IMODE(st.st_mode)])
    return out


def verified(creds: Credentials, role: str) -> Credentials:
    """:func:`check` ``role``'s files, but only when they changed since the last check or a
    certificate expired meanwhile (a 0600 stamp file records both): every ``set_stage()`` calls
    this, and a full check costs ~60 ms of imports. Returns ``creds``."""
    import json
    import time

    files = creds.files(role)
    stamp = creds.directory / f".verified-{role}.json"
    signature = _signature(files)
    try:
        recorded = json.loads(stamp.read_text())
        if signature and recorded["files"] == signature and time.time() < recorded["valid_until"]:
            return creds
    except (OSError, ValueError, KeyError, TypeError):
        pass
    valid_until = check(creds, role)
    write_private(stamp, json.dumps({"files": signature, "valid_until": valid_until.timestamp()}))
    return creds


# --- client copies of a frontend's credentials --------------------------------------------------


def export_for_client(creds: Credentials) -> dict[str, str]:
    """What a client on another machine needs: CA certificate, client certificate and key."""
    return {name: (creds.directory / name).read_text() for name in CLIENT_FILES}


def host_directory(host: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Where the client copy of ``host``'s credentials lives (``~/.seamless/tls/hosts/<host>``)."""
    if not host or "/" in host or host in (".", ".."):
        raise ValueError(f"not a host name: {host!r}")
    return Path(root or default_directory()) / "hosts" / host


def store_client_copy(directory: str | os.PathLike[str], files: dict[str, str]) -> Credentials:
    """Store an :func:`export_for_client` dict, owner-only, as a client credentials directory."""
    missing = [name for name in CLIENT_FILES if not isinstance(files.get(name), str)]
    if missing:
        raise ValueError(f"client credentials lack {', '.join(missing)}")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    creds = Credentials(private_dir(directory))
    try:
        bundle = _pkcs12(
            serialization.load_pem_private_key(files["client.key"].encode(), password=None),
            x509.load_pem_x509_certificate(files["client.pem"].encode()),
            x509.load_pem_x509_certificate(files["ca.pem"].encode()),
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(f"client credentials are not PEM certificates and keys: {exc}") from None
    write_private(creds.directory / "client.p12", bundle)
    for name in ("client.key", "client.pem", "ca.pem"):  # ca.pem last: its presence means complete
        write_private(creds.directory / name, files[name])
    return creds
