"""
The production layout on one machine: nginx (TLS, HTTP/2, static and media)
in front of gunicorn page processes and daphne websocket processes, all from
this checkout and the environment's settings.

    python deploy/layout.py render             # nginx config from the NB_* variables
    python deploy/layout.py up [--https-port N] [--workers N] [--websockets N]

`up` runs everything on 127.0.0.1 in a temporary folder (a self-signed
certificate, collected static files, Debian's nginx) until Ctrl-C; the tests
and the benchmark use the same `Layout`. Settings come from the environment
as for any process of the site (DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY...).
"""

import argparse
import contextlib
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parent
BASE_DIR = DEPLOY_DIR.parent
TEMPLATE = DEPLOY_DIR / "nginx" / "nobroker.conf"
PLACEHOLDER = re.compile(r"\$\{(NB_[A-Z_]+)\}")
DEFAULTS = {
    "NB_SERVER_NAME": "_",
    "NB_HTTP_PORT": "80",
    "NB_HTTPS_PORT": "443",
    "NB_PAGE_SERVERS": "127.0.0.1:8001",
    "NB_WEBSOCKET_SERVERS": "127.0.0.1:8101 127.0.0.1:8102",
    "NB_STATIC_ROOT": "/srv/nobroker/staticfiles",
    "NB_MEDIA_ROOT": "/srv/nobroker/media",
    "NB_TLS_CERTIFICATE": "/etc/ssl/nobroker/fullchain.pem",
    "NB_TLS_CERTIFICATE_KEY": "/etc/ssl/nobroker/privkey.pem",
}


def render(values: dict[str, str]) -> str:
    """The nginx config with every ${NB_...} filled in; server lists expanded."""
    merged = {**DEFAULTS, **{k: v for k, v in values.items() if k.startswith("NB_")}}
    for name in ("NB_PAGE_SERVERS", "NB_WEBSOCKET_SERVERS"):
        merged[name] = "\n".join(
            f"    server {address} max_fails=2 fail_timeout=5s;"
            for address in merged[name].replace(",", " ").split()
        )

    def fill(match: re.Match) -> str:
        return merged[match.group(1)]

    return PLACEHOLDER.sub(fill, TEMPLATE.read_text())


def _wait(url: str, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2, context=context)  # noqa: S310
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"{url} did not answer:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)


class Layout:
    """
    nginx, `workers` gunicorn workers and `websockets` daphne processes on
    loopback ports, in `root`. A context manager: everything stops on exit.
    """

    def __init__(
        self,
        *,
        root: Path,
        env: dict[str, str],
        ports: list[int],
        workers: int = 2,
        websockets: int = 2,
    ):
        self.root = root
        self.env = dict(env)
        self.https_port, self.http_port, self.page_port, *self.websocket_ports = ports
        self.websocket_ports = self.websocket_ports[:websockets]
        if len(self.websocket_ports) < websockets:
            raise ValueError(
                "one port each: https, http, pages, every websocket process"
            )
        self.workers = workers
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = root / "logs"

    # --- processes -------------------------------------------------------------

    def _start(self, name: str, args: list[str], env: dict[str, str], cwd=BASE_DIR):
        log = self.logs / f"{name}.log"
        with open(log, "w") as out:
            self.processes[name] = subprocess.Popen(  # noqa: S603
                args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        return log

    def start_pages(self) -> None:
        env = {**self.env, "WEB_CONCURRENCY": str(self.workers)}
        env["GUNICORN_BIND"] = f"127.0.0.1:{self.page_port}"
        log = self._start(
            "pages",
            [self._bin("gunicorn"), "-c", str(DEPLOY_DIR / "gunicorn.conf.py")],
            env,
        )
        _wait(
            f"http://127.0.0.1:{self.page_port}/healthz", self.processes["pages"], log
        )

    def start_websockets(self, port: int) -> None:
        name = f"websockets-{port}"
        log = self._start(
            name,
            [self._bin("daphne"), "-b", "127.0.0.1", "-p", str(port)]
            + ["--proxy-headers", "nobroker.asgi:application"],
            self.env,
        )
        _wait(f"http://127.0.0.1:{port}/healthz", self.processes[name], log)

    def stop_websockets(self, port: int) -> None:
        """Stops one websocket process as a deploy does: SIGTERM, then wait."""
        self._stop(f"websockets-{port}")

    def _stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def reload_pages(self) -> None:
        """gunicorn's graceful restart: new workers, old ones finish their requests."""
        self.processes["pages"].send_signal(signal.SIGHUP)

    @staticmethod
    def _bin(name: str) -> str:
        return str(Path(sys.executable).with_name(name))

    # --- nginx -----------------------------------------------------------------

    def _certificate(self) -> tuple[Path, Path]:
        cert, key = self.root / "tls" / "cert.pem", self.root / "tls" / "key.pem"
        cert.parent.mkdir()
        subprocess.run(  # noqa: S603
            [
                shutil.which("openssl") or "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
            ]
            + ["-nodes", "-days", "2", "-subj", "/CN=localhost"]
            + ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
            + ["-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )
        key.chmod(0o644)  # read by nginx's master only, in a private folder
        return cert, key

    def start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            raise RuntimeError("nginx is not installed (Debian package nginx-light)")
        cert, key = self._certificate()
        site = render(
            {
                "NB_SERVER_NAME": "127.0.0.1 localhost",
                "NB_HTTP_PORT": str(self.http_port),
                "NB_HTTPS_PORT": str(self.https_port),
                "NB_PAGE_SERVERS": f"127.0.0.1:{self.page_port}",
                "NB_WEBSOCKET_SERVERS": " ".join(
                    f"127.0.0.1:{port}" for port in self.websocket_ports
                ),
                "NB_STATIC_ROOT": self.env["STATIC_ROOT"],
                "NB_MEDIA_ROOT": self.env["MEDIA_ROOT"],
                "NB_TLS_CERTIFICATE": str(cert),
                "NB_TLS_CERTIFICATE_KEY": str(key),
            }
        )
        # Only loopback here: the site's ports listen on 127.0.0.1, not everywhere.
        site = re.sub(r"listen \[::\]:\d+[^;]*;\n", "", site)
        site = re.sub(r"listen (\d+)", r"listen 127.0.0.1:\1", site)
        (self.root / "site.conf").write_text(site)
        temp = self.root / "nginx-temp"
        temp.mkdir()
        (self.root / "nginx.conf").write_text(
            "daemon off;\nworker_processes 1;\n"
            f"pid {self.root / 'nginx.pid'};\n"
            f"error_log {self.logs / 'nginx-error.log'} warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            f"    access_log {self.logs / 'nginx-access.log'};\n"
            "    sendfile on;\n"
            f"    client_body_temp_path {temp}/body;\n"
            f"    proxy_temp_path {temp}/proxy;\n"
            f"    fastcgi_temp_path {temp}/fastcgi;\n"
            f"    uwsgi_temp_path {temp}/uwsgi;\n"
            f"    scgi_temp_path {temp}/scgi;\n"
            f"    include {self.root / 'site.conf'};\n"
            "}\n"
        )
        log = self._start(
            "nginx",
            [nginx, "-p", str(self.root), "-c", str(self.root / "nginx.conf")],
            self.env,
        )
        _wait(f"{self.url}/healthz", self.processes["nginx"], log)

    # --- all of it ---------------------------------------------------------------

    def collect_static(self) -> None:
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def __enter__(self) -> "Layout":
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env.setdefault("STATIC_ROOT", str(self.root / "static"))
        self.env.setdefault("MEDIA_ROOT", str(self.root / "media"))
        Path(self.env["MEDIA_ROOT"]).mkdir(parents=True, exist_ok=True)
        self.env.setdefault("PROXY_COUNT", "1")
        try:
            self.collect_static()
            self.start_pages()
            for port in self.websocket_ports:
                self.start_websockets(port)
            self.start_nginx()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        for name in list(self.processes):
            self._stop(name)

    def pids(self) -> dict[str, list[int]]:
        """Every process of the layout, gunicorn's and nginx's workers included."""
        found = {}
        for name, process in self.processes.items():
            children = subprocess.run(  # noqa: S603
                [shutil.which("pgrep") or "pgrep", "-P", str(process.pid)],
                capture_output=True,
                text=True,
            ).stdout.split()
            found[name] = [process.pid, *map(int, children)]
        return found


def _ports(start: int, count: int) -> list[int]:
    return list(range(start, start + count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("render", help="print the nginx config from the NB_* variables")
    up = commands.add_parser("up", help="run the layout on 127.0.0.1 until Ctrl-C")
    up.add_argument("--https-port", type=int, default=8443)
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--websockets", type=int, default=2)
    args = parser.parse_args()
    if args.command == "render":
        sys.stdout.write(render(dict(os.environ)))
        return
    sys.path.insert(0, str(BASE_DIR))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "nobroker.settings"}
    env.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
    env.setdefault("CSRF_TRUSTED_ORIGINS", f"https://127.0.0.1:{args.https_port}")
    root = Path(tempfile.mkdtemp(prefix="nobroker-layout-"))
    root.chmod(0o755)
    ports = _ports(args.https_port, 3 + args.websockets)
    with Layout(
        root=root,
        env=env,
        ports=ports,
        workers=args.workers,
        websockets=args.websockets,
    ) as layout:
        print(
            f"The layout answers at {layout.url} (logs in {layout.logs}); Ctrl-C stops it."
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
