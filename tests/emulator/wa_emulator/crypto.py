# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backup encryption, JWT tokens, password hashes and the web app's self-signed certificate."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import time

BACKUP_MAGIC = b"WAB1"
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


class BackupError(Exception):
    pass


def _backup_key(password, salt):
    return hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)


def encrypt_backup(password, document):
    """scrypt-derived key, AES-256-GCM; the magic and salt are authenticated as associated data."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    salt, nonce = os.urandom(16), os.urandom(12)
    header = BACKUP_MAGIC + salt
    sealed = AESGCM(_backup_key(password, salt)).encrypt(nonce, json.dumps(document).encode(), header)
    return base64.b64encode(header + nonce + sealed).decode()


def decrypt_backup(password, data):
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    try:
        raw = base64.b64decode(data, validate=True)
    except (ValueError, TypeError):
        raise BackupError("Backup data is not valid base64") from None
    if len(raw) < 4 + 16 + 12 + 16 or not raw.startswith(BACKUP_MAGIC):
        raise BackupError("Backup data is malformed")
    header, nonce, sealed = raw[:20], raw[20:32], raw[32:]
    try:
        plain = AESGCM(_backup_key(password, header[4:])).decrypt(nonce, sealed, header)
    except InvalidTag:
        raise BackupError("Unable to decrypt backup data: wrong password or corrupted data") from None
    return json.loads(plain)


def hash_password(password):
    import bcrypt
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def check_password(password, hashed):
    import bcrypt
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_jwt(key, username, lifetime):
    now = int(time.time())
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    # jti keeps two tokens issued in the same second distinct: the tokens table holds them uniquely.
    payload = _b64url(json.dumps({"user": username, "iat": now, "exp": now + lifetime,
                                  "jti": _b64url(os.urandom(9))}).encode())
    signature = hmac.new(key, ("%s.%s" % (header, payload)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (header, payload, _b64url(signature)), now + lifetime


def read_jwt(key, token):
    """The payload of a correctly signed, unexpired token, or None."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(key, ("%s.%s" % (header, payload)).encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64url(signature)):
            return None
        claims = json.loads(_unb64url(payload))
    except (ValueError, TypeError):
        return None
    if claims.get("exp", 0) <= time.time():
        return None
    return claims


def format_expiry(epoch):
    """PHP's 'Y-m-d H:i:sP', as the web app returns ``expires_after``."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S+00:00")


def self_signed(servername):
    """A CA and a server certificate signed by it, as PEM strings (ca_pem, cert_pem, key_pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "WhatsApp Business API emulator CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(servername), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, servername)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem).decode(), cert.public_bytes(pem).decode(), key_pem.decode()
