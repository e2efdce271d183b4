"""A real Kamailio, configured as a SIP-over-WebSocket registrar/proxy on 127.0.0.1.

Usage (outside pytest)::

    from kamailio.server import KamailioServer      # with tests/ on sys.path

    with KamailioServer() as k:                      # start() ... stop()
        print(k.ws_url, k.wss_url, k.domain, k.users)

Everything lives in a private working directory: the rendered ``kamailio.cfg``,
a self-signed certificate (``cert.pem``/``key.pem``, made with the openssl CLI),
the runtime dir (``-Y``) and ``kamailio.log`` (stderr of Kamailio, appended to
across restarts).  Ports are picked once, on the first start(); restart() keeps them.

See README.md next to this file for what the server expects from a UA.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import itertools
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "DEFAULT_USERS",
    "DOMAIN",
    "KamailioError",
    "KamailioNotInstalledError",
    "KamailioServer",
    "find_kamailio",
    "load_user",
    "require_kamailio",
]

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "kamailio.cfg.tmpl"

#: SIP domain and digest realm; the AoR of a user is sip:USER@DOMAIN.
DOMAIN = "websip.test"
LOOPBACK = "127.0.0.1"

#: The fixed test users (name -> password).
DEFAULT_USERS: Mapping[str, str] = {
    "alice": "alicepw",
    "bob": "bobpw",
    "carol": "carolpw",
    "dave": "davepw",
}

#: Debian/Ubuntu module directories, probed in order (KAMAILIO_MPATH overrides).
_MPATH_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib/aarch64-linux-gnu/kamailio/modules",
    "/usr/lib/kamailio/modules",
    "/usr/lib64/kamailio/modules",
    "/usr/local/lib64/kamailio/modules",
    "/usr/local/lib/kamailio/modules",
)
_REQUIRED_MODULES = ("websocket.so", "tls.so", "xhttp.so", "registrar.so", "auth.so")
_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")
_INSTALL_HINT = (
    "Kamailio is required for these tests (Debian packages: kamailio "
    "kamailio-websocket-modules kamailio-tls-modules). Run ./scripts/test, which "
    "installs it, or: apt-get install -y kamailio kamailio-websocket-modules "
    "kamailio-tls-modules"
)


# Safety net: never leave a Kamailio behind when the interpreter exits.
_RUNNING: weakref.WeakSet[KamailioServer] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_RUNNING):
        server.kill()


class KamailioError(RuntimeError):
    """Kamailio failed to start, died, or misbehaved."""


class KamailioNotInstalledError(KamailioError):
    """The kamailio binary or one of the needed modules is missing."""


def load_user(index: int) -> tuple[str, str]:
    """Credentials of load-test user number ``index`` (1-based).

    ``load_user(1) == ("user0001", "user0001pw")``; the server accepts
    user0001..userNNNN where NNNN is its ``load_users`` setting.
    """
    if index < 1:
        raise ValueError("load users are numbered from 1")
    name = f"user{index:04d}"
    return name, name + "pw"


def find_kamailio() -> tuple[str, str]:
    """Return (kamailio binary, module dir) or raise KamailioNotInstalledError."""
    env_bin = os.environ.get("KAMAILIO_BIN")
    if env_bin and not (os.path.isfile(env_bin) and os.access(env_bin, os.X_OK)):
        raise KamailioNotInstalledError(f"KAMAILIO_BIN={env_bin} is not an executable file")
    binary = env_bin or shutil.which("kamailio")
    if binary is None:
        for cand in ("/usr/sbin/kamailio", "/usr/local/sbin/kamailio"):
            if os.access(cand, os.X_OK):
                binary = cand
                break
    if binary is None:
        raise KamailioNotInstalledError("kamailio binary not found. " + _INSTALL_HINT)
    env_mpath = os.environ.get("KAMAILIO_MPATH")
    candidates = (env_mpath,) if env_mpath else _MPATH_CANDIDATES
    for mpath in candidates:
        if all(Path(mpath, m).is_file() for m in _REQUIRED_MODULES):
            return binary, mpath
    raise KamailioNotInstalledError(
        f"kamailio found at {binary} but not the modules {', '.join(_REQUIRED_MODULES)} "
        f"(looked in {', '.join(candidates)}). " + _INSTALL_HINT
    )


def require_kamailio() -> None:
    """Raise KamailioNotInstalledError (with the install hint) if Kamailio is unusable."""
    find_kamailio()
    if shutil.which("openssl") is None:
        raise KamailioNotInstalledError("the openssl CLI is needed to make the test certificate")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """Free loopback TCP ports, preferably below the ephemeral range.

    Ports outside the ephemeral range cannot be taken by the client side of some
    other connection while Kamailio is down for a restart.
    """
    low, _ = _ephemeral_range()
    ports: list[int] = []
    if low > 12000:
        rng = random.Random()
        for _ in range(200):
            port = rng.randrange(10000, low)
            if port not in ports and _bindable(port):
                ports.append(port)
                if len(ports) == count:
                    return ports
    socks: list[socket.socket] = []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
        return ports
    finally:
        for s in socks:
            s.close()


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


class KamailioServer:
    """One Kamailio process serving ws:// and wss:// on 127.0.0.1.

    Options (all keyword-only):

    users            extra/overriding fixed users, merged over DEFAULT_USERS
    load_users       how many computed users user0001.. are accepted (password NAMEpw)
    auth_register    challenge REGISTER with 401 (default True)
    auth_requests    challenge out-of-dialog requests from our domain with 407 (True)
    outbound         registrar outbound_mode=1 (RFC 5626 supported) (True)
    debug            Kamailio debug level: 1 warnings, 2 info incl. one line per
                     request (default), 3 debug
    tcp_children     worker processes for TCP/TLS/WS (default 4)
    shm_mb, pkg_mb   shared / private memory sizes in MB; shm_mb defaults to enough
                     for max_connections WebSockets (each costs about 2 x
                     tcp_rd_buf_size of shm; the memory is only touched when used)
    tcp_rd_buf_size  per-connection read buffer; the largest SIP message Kamailio
                     accepts over WebSocket is tcp_rd_buf_size - 1 bytes (a bigger
                     frame makes it drop the connection)
    max_connections  tcp_max_connections and tls_max_connections
    min_expires, max_expires, default_expires, min_expires_mode (1: 423 when too brief)
    fr_timer_ms, fr_inv_timer_ms  tm timers (408 after fr_timer without reply)
    ws_keepalive     send WebSocket pings on idle connections (default True)
    ws_keepalive_timeout  idle seconds before a ping (default 180)
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        *,
        users: Mapping[str, str] | None = None,
        load_users: int = 1000,
        auth_register: bool = True,
        auth_requests: bool = True,
        outbound: bool = True,
        domain: str = DOMAIN,
        debug: int = 2,
        tcp_children: int = 4,
        shm_mb: int | None = None,
        pkg_mb: int = 8,
        max_connections: int = 4096,
        tcp_rd_buf_size: int = 65536,
        min_expires: int = 0,
        max_expires: int = 3600,
        default_expires: int = 600,
        min_expires_mode: int = 0,
        fr_timer_ms: int = 30000,
        fr_inv_timer_ms: int = 120000,
        ws_keepalive: bool = True,
        ws_keepalive_timeout: int = 180,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir if workdir is not None else tempfile.mkdtemp(prefix="kam-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        merged = dict(DEFAULT_USERS)
        merged.update(users or {})
        for name, pw in merged.items():
            if not (_SAFE.match(name) and _SAFE.match(pw)):
                raise ValueError(f"user/password must match {_SAFE.pattern}: {name!r}")
            if re.fullmatch(r"user[0-9]{4,}", name):
                raise ValueError(f"{name!r} collides with the computed load users")
        if not _SAFE.match(domain):
            raise ValueError(f"bad domain {domain!r}")
        self._users = merged
        self.load_users = load_users
        self.auth_register = auth_register
        self.auth_requests = auth_requests
        self.outbound = outbound
        self._domain = domain
        self.debug = debug
        self.tcp_children = tcp_children
        if shm_mb is None:
            shm_mb = 64 + (max_connections * (2 * tcp_rd_buf_size + 4096)) // (1 << 20)
        self.shm_mb = shm_mb
        self.pkg_mb = pkg_mb
        self.max_connections = max_connections
        self.tcp_rd_buf_size = tcp_rd_buf_size
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        self.min_expires_mode = min_expires_mode
        self.fr_timer_ms = fr_timer_ms
        self.fr_inv_timer_ms = fr_inv_timer_ms
        self.ws_keepalive = ws_keepalive
        self.ws_keepalive_timeout = ws_keepalive_timeout

        self._ws_port: int | None = None
        self._wss_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._rpc_ids = itertools.count(1)
        self.cfg_path = self.workdir / "kamailio.cfg"
        self.cert_path = self.workdir / "cert.pem"
        self.key_path = self.workdir / "key.pem"
        self.log_path = self.workdir / "kamailio.log"
        self.run_dir = self.workdir / "run"

    # ------------------------------------------------------------------ facts

    @property
    def domain(self) -> str:
        """SIP domain and digest realm (``websip.test``)."""
        return self._domain

    @property
    def realm(self) -> str:
        return self._domain

    @property
    def users(self) -> dict[str, str]:
        """Fixed users, name -> password (a copy)."""
        return dict(self._users)

    def password(self, user: str) -> str:
        if user in self._users:
            return self._users[user]
        m = re.fullmatch(r"user([0-9]{4,})", user)
        if m and 1 <= int(m.group(1)) <= self.load_users:
            return user + "pw"
        raise KeyError(user)

    def aor(self, user: str) -> str:
        return f"sip:{user}@{self._domain}"

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def ws_port(self) -> int:
        if self._ws_port is None:
            raise KamailioError("not started yet: no port chosen")
        return self._ws_port

    @property
    def wss_port(self) -> int:
        if self._wss_port is None:
            raise KamailioError("not started yet: no port chosen")
        return self._wss_port

    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.ws_port}"

    @property
    def wss_url(self) -> str:
        return f"wss://{LOOPBACK}:{self.wss_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts (only) the generated certificate.

        The certificate's subjectAltName holds IP:127.0.0.1, DNS:localhost and
        DNS:<domain>, so hostname checking stays on.
        """
        if not self.cert_path.exists():
            raise KamailioError("no certificate yet: call start() first")
        return ssl.create_default_context(cafile=str(self.cert_path))

    # ---------------------------------------------------------------- control

    def start(self, timeout: float = 10.0) -> None:
        """Write cfg + certificate, run Kamailio and wait until it serves.

        The first start picks the ports (and picks again, up to 3 times, if
        another process grabs one of them first); later starts reuse them.
        """
        if self.running:
            raise KamailioError("already running")
        if self._ws_port is not None:
            self._start_once(timeout)
            return
        for attempt in range(3):
            self._ws_port, self._wss_port = _free_ports(2)
            try:
                self._start_once(timeout)
                return
            except KamailioError as exc:
                if attempt == 2 or "Address already in use" not in str(exc):
                    self._ws_port = self._wss_port = None
                    raise

    def _start_once(self, timeout: float) -> None:
        binary, mpath = find_kamailio()
        self.run_dir.mkdir(exist_ok=True)
        if not self.cert_path.exists():
            self._make_certificate()
        self.cfg_path.write_text(self.render_cfg(mpath))
        cmd = [
            binary,
            "-f", str(self.cfg_path),
            "-DD",  # stay in the foreground, but fork the workers
            "-E",  # log to stderr
            "-Y", str(self.run_dir),
            "-m", str(self.shm_mb),
            "-M", str(self.pkg_mb),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
            log.flush()
            self._log_start = log.tell()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # own process group: stop() reaps the workers
            )
        _RUNNING.add(self)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self._terminate(force=True)
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM Kamailio (and its workers) and wait; SIGKILL if it hangs."""
        self._terminate(force=False, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL Kamailio and its workers: a crash, for the UA's recovery tests."""
        self._terminate(force=True)

    def restart(self, timeout: float = 10.0) -> None:
        """stop() then start() on the same ports, certificate and cfg options."""
        self.stop()
        self.start(timeout=timeout)

    def close(self) -> None:
        """stop(); remove the working directory if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KamailioServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------- logs

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        """Log text written after byte ``offset`` (see log_size())."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -------------------------------------------------------------------- rpc

    def rpc(self, method: str, *params: Any, timeout: float = 5.0) -> Any:
        """Call a Kamailio RPC command (JSON-RPC over HTTP POST /RPC on the ws port).

        Examples: rpc("core.version"), rpc("ul.dump"), rpc("ul.lookup", "location", "alice"),
        rpc("ul.rm", "location", "alice"), rpc("ws.dump"), rpc("core.shmmem").
        Raises KamailioError on a JSON-RPC error (e.g. ul.lookup of an unknown AoR).
        """
        body = json.dumps(
            {"jsonrpc": "2.0", "method": method, "params": list(params), "id": next(self._rpc_ids)}
        )
        conn = http.client.HTTPConnection(LOOPBACK, self.ws_port, timeout=timeout)
        try:
            conn.request("POST", "/RPC", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            answer = json.loads(raw)
        except ValueError:
            raise KamailioError(f"RPC {method}: HTTP {resp.status} {raw[:200]!r}") from None
        if "error" in answer:
            err = answer["error"]
            raise KamailioError(f"RPC {method}: {err.get('code')} {err.get('message')}")
        if resp.status != 200:
            raise KamailioError(f"RPC {method}: HTTP {resp.status} {raw[:200]!r}")
        return answer.get("result")

    def contacts(self, user: str) -> list[dict[str, Any]]:
        """Registered contacts of ``user`` (ul.lookup), [] when none."""
        try:
            result = self.rpc("ul.lookup", "location", user)
        except KamailioError as exc:
            # "404 AOR not found" / "500 AOR has no contacts"
            if "AOR" in str(exc).upper():
                return []
            raise
        # {"AoR": "alice", "Contacts": [{"Contact": {"Address": ..., "Received": ...}}]}
        contacts = result.get("Contacts", []) if isinstance(result, dict) else []
        return [c.get("Contact", c) for c in contacts]

    def unregister_all(self) -> None:
        """Forget every registration (ul.rm for each AoR found by ul.dump)."""
        dump = self.rpc("ul.dump", "brief")
        for domain in dump.get("Domains", []):
            for entry in domain.get("Domain", {}).get("AoRs", []):
                aor = entry.get("Info", {}).get("AoR") or entry.get("AoR")
                if aor:
                    with contextlib.suppress(KamailioError):
                        self.rpc("ul.rm", "location", aor)

    # -------------------------------------------------------------- internals

    def render_cfg(self, mpath: str | None = None) -> str:
        if mpath is None:
            mpath = find_kamailio()[1]
        defines = []
        if self.auth_register:
            defines.append("#!define AUTH_REGISTER")
        if self.auth_requests:
            defines.append("#!define AUTH_REQUESTS")
        if self.outbound:
            defines.append("#!define OUTBOUND")
        users = "\n".join(
            f'\t$sht(users=>{name}) = "{pw}";' for name, pw in sorted(self._users.items())
        )
        values = {
            "DEFINES": "\n".join(defines) or "# (no feature switches)",
            "DOMAIN": self._domain,
            "LOAD_USERS": str(int(self.load_users)),
            "DEBUG": str(int(self.debug)),
            "TCP_CHILDREN": str(int(self.tcp_children)),
            "WS_PORT": str(self.ws_port),
            "WSS_PORT": str(self.wss_port),
            "MAX_CONNECTIONS": str(int(self.max_connections)),
            "OPEN_FILES": str(self._open_files_limit()),
            "TCP_RD_BUF_SIZE": str(int(self.tcp_rd_buf_size)),
            "MPATH": mpath,
            "CERT_FILE": str(self.cert_path),
            "KEY_FILE": str(self.key_path),
            "FR_TIMER": str(int(self.fr_timer_ms)),
            "FR_INV_TIMER": str(int(self.fr_inv_timer_ms)),
            "DEFAULT_EXPIRES": str(int(self.default_expires)),
            "MIN_EXPIRES": str(int(self.min_expires)),
            "MIN_EXPIRES_MODE": str(int(self.min_expires_mode)),
            "MAX_EXPIRES": str(int(self.max_expires)),
            "AUTH_SECRET": secrets.token_hex(16),
            "WS_KEEPALIVE_MECHANISM": "1" if self.ws_keepalive else "0",
            "WS_KEEPALIVE_TIMEOUT": str(int(self.ws_keepalive_timeout)),
            "USERS": users,
        }
        text = TEMPLATE.read_text()
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", value)
        left = sorted(set(re.findall(r"@@([A-Z_]+)@@", text)))
        if left:
            raise KamailioError(f"unsubstituted placeholders in the cfg template: {left}")
        return text

    def _open_files_limit(self) -> int:
        """Enough descriptors for max_connections, within the hard limit we may set."""
        wanted = int(self.max_connections) * 2 + 1024
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)

    def _make_certificate(self) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise KamailioNotInstalledError(
                "the openssl CLI is needed to make the test certificate"
            )
        cmd = [
            openssl, "req", "-x509", "-nodes", "-days", "3",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-keyout", str(self.key_path), "-out", str(self.cert_path),
            "-subj", f"/CN={self._domain}",
            "-addext", f"subjectAltName=IP:{LOOPBACK},DNS:localhost,DNS:{self._domain}",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, check=False)
        if res.returncode != 0:
            raise KamailioError(f"openssl failed: {res.stderr.decode(errors='replace')}")
        self.key_path.chmod(0o600)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            proc = self._proc
            assert proc is not None
            if proc.poll() is not None:
                raise KamailioError(
                    f"kamailio exited with status {proc.returncode} while starting; "
                    f"log {self.log_path}:\n{self.log_since(self._log_start)[-4000:]}"
                )
            if _port_accepts(self.ws_port) and _port_accepts(self.wss_port):
                try:
                    # answered by a TCP worker: the routing script is live
                    self.rpc("core.version", timeout=1.0)
                    return
                except (OSError, KamailioError, ValueError) as exc:
                    last_error = repr(exc)
            time.sleep(0.05)
        raise KamailioError(
            f"kamailio not ready on ports {self._ws_port}/{self._wss_port} after {timeout}s "
            f"({last_error}); log {self.log_path}:\n{self.log_since(self._log_start)[-4000:]}"
        )

    def _terminate(self, force: bool, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the group is ours alone
        sig = signal.SIGKILL if force else signal.SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=5)
        # the workers (same group) must be gone too, or the ports stay taken
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self._group_alive(pgid):
            time.sleep(0.02)
        if self._group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self._proc = None
        _RUNNING.discard(self)

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        """True while a non-zombie process of group ``pgid`` exists."""
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # killpg succeeds on zombies too: look at /proc for live members
        proc_dir = Path("/proc")
        if not proc_dir.is_dir():
            return True
        for entry in proc_dir.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid pgrp ...
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) >= 3 and int(fields[2]) == pgid and fields[0] != "Z":
                return True
        return False

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<KamailioServer {state} ws={self._ws_port} wss={self._wss_port} {self.workdir}>"
