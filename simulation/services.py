"""Local stand-ins for a company's systems, for the demo: sshd laptops on loopback and an S3 server.

Starts real OpenSSH `sshd` processes (one per simulated laptop, own host key, own loopback address) and a
moto S3 server, detached, with their pids recorded so `stop_services` ends exactly what was started.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.local import is_pid_alive

SSHD = Path("/usr/sbin/sshd")
SSH_PORT = 2222


@dataclass(frozen=True)
class SSHLaptop:
    """A simulated laptop served by its own sshd."""

    name: str
    host: str
    port: int
    tree: Path
    pid: int

    @property
    def url(self) -> str:
        """The endpoint URL (the tree stands for the laptop's `/`)."""
        return f"ssh://root@{self.host}:{self.port}{self.tree}"


def write_ed25519(path: Path) -> str:
    """Write a new ed25519 private key (OpenSSH format, mode 600); returns its public line."""
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    )
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode("ascii")


def sshd_available() -> bool:
    """Whether real sshd laptops can run here (OpenSSH server installed, running as root)."""
    return SSHD.exists() and os.geteuid() == 0


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def start_sshd_laptops(
    trees: dict[str, Path], workdir: Path, *, first_octet: int = 20
) -> tuple[list[SSHLaptop], Path, Path]:
    """Start one sshd per tree on 127.0.0.N:2222; returns the laptops, the client key and known_hosts."""
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
    client_key = workdir / "id_ed25519"
    client_public = write_ed25519(client_key)
    known_hosts = workdir / "known_hosts"
    lines: list[str] = []
    laptops: list[SSHLaptop] = []
    octet = first_octet
    for name, tree in trees.items():
        base = workdir / name
        base.mkdir(exist_ok=True)
        host_key = base / "ssh_host_ed25519_key"
        host_line = write_ed25519(host_key)
        (base / "authorized_keys").write_text(client_public + "\n", encoding="ascii")
        while not _port_free(f"127.0.0.{octet}", SSH_PORT):
            octet += 1
        host = f"127.0.0.{octet}"
        octet += 1
        config = base / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {SSH_PORT}",
                    f"ListenAddress {host}",
                    f"HostKey {host_key}",
                    f"PidFile {base / 'sshd.pid'}",
                    f"AuthorizedKeysFile {base / 'authorized_keys'}",
                    "StrictModes no",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "UseDNS no",
                    "Subsystem sftp internal-sftp",
                ]
            )
            + "\n",
            encoding="ascii",
        )
        with (base / "sshd.log").open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv: the system sshd and our own config file
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        ready = f"Server listening on {host} port {SSH_PORT}"
        while ready not in (base / "sshd.log").read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd for {name} did not start; see {base / 'sshd.log'}")
            time.sleep(0.1)
        lines.append(f"[{host}]:{SSH_PORT} {host_line}")
        laptops.append(SSHLaptop(name, host, SSH_PORT, tree.resolve(), proc.pid))
    known_hosts.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return laptops, client_key, known_hosts


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_s3_server(workdir: Path) -> tuple[str, int]:
    """Start moto's S3 server on a free loopback port; returns its endpoint URL and pid."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    binary = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    with (workdir / "moto.log").open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv: moto's server script on loopback
            [binary, "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the S3 server did not start; see {workdir / 'moto.log'}") from None
            time.sleep(0.3)
    return url, proc.pid


def seed_backup_bucket(endpoint_url: str, bucket: str, prefix: str, sources: dict[str, Path]) -> int:
    """Create a versioned bucket holding laptop history backups: each source uploaded twice (an old and a
    current version, the current one gzip-compressed for every second file); returns the object count."""
    import boto3  # noqa: PLC0415 - only the demo seeds buckets

    client = boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    count = 0
    for index, (key, path) in enumerate(sorted(sources.items())):
        data = path.read_bytes()
        client.put_object(Bucket=bucket, Key=f"{prefix}{key}", Body=data[: len(data) // 2])
        if index % 2:
            client.put_object(Bucket=bucket, Key=f"{prefix}{key}.gz", Body=gzip.compress(data, mtime=0))
        else:
            client.put_object(Bucket=bucket, Key=f"{prefix}{key}", Body=data)
        count += 1
    client.put_object(Bucket=bucket, Key=f"{prefix}README.txt", Body=b"Nightly copies of laptop agent histories.\n")
    return count


def stop_pids(pids: list[int]) -> int:
    """SIGTERM each process group, then SIGKILL what is left after 10 s; returns how many were running."""
    running = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
            running.append(pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(is_pid_alive(p) for p in running):
        time.sleep(0.2)
    for pid in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    return len(running)


def write_state(path: Path, data: dict[str, object]) -> None:
    """Record what was started."""
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
