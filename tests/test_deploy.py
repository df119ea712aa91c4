"""deploy/compose.yaml, read as Compose would: valid against the Compose Specification's schema, the
Playwright that constraints.txt pins, only settings Sentri reads, and the ports, paths, limits and timeouts
that the Dockerfile, deploy/proxy.conf and the app have. No Docker here: these read files, start nothing."""

from __future__ import annotations

import copy
import json
import re
import shlex
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema.validators import validator_for

from sentri import config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PLAYWRIGHT_IMAGE = "mcr.microsoft.com/playwright"
# Settings another branch is adding to sentri.config.ENVIRONMENT; drop each from here once it is there.
BEING_ADDED = {"SENTRI_BROWSER_SERVERS", "SENTRI_METRICS", "SENTRI_METRICS_TOKEN"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|(^|_)KEY($|_)")
# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ...
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> dict:
    """The Dockerfile's final stage: its ENV settings, EXPOSEd ports, VOLUMEs and HEALTHCHECK command."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    final = text.split("\nFROM ")[-1]
    found = {"env": {}, "expose": set(), "volumes": set(), "healthcheck": ""}
    for line in final.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "ENV":
            found["env"].update(token.split("=", 1) for token in shlex.split(rest))
        elif instruction == "EXPOSE":
            found["expose"].update(int(port.split("/")[0]) for port in rest.split())
        elif instruction == "VOLUME":
            found["volumes"].update(json.loads(rest))
        elif instruction == "HEALTHCHECK":
            found["healthcheck"] = rest
    return found


@pytest.fixture(scope="module")
def proxy_conf() -> str:
    return re.sub(r"#[^\n]*", "", (DEPLOY / "proxy.conf").read_text())


def _env_example() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _pinned(package: str) -> str:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.strip()
    raise AssertionError(f"constraints.txt pins no {package}")


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def _sentri_services(compose: dict) -> dict[str, dict]:
    """The services built from this repository's Dockerfile: the Sentri replicas."""
    found = {}
    for name, service in compose["services"].items():
        build = service.get("build")
        if isinstance(build, dict) and (DEPLOY / build["context"]).resolve() == ROOT:
            assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
            found[name] = service
    return found


def _browser_services(compose: dict) -> dict[str, dict]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith(PLAYWRIGHT_IMAGE + ":")
    }


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Substitute Compose's ${...} as `docker compose` would with this .env; a missing required one fails."""

    def one(match: re.Match) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"]
        if env.get(name):
            return env[name]
        assert "?" not in op, f"${{{name}}} is required but deploy/.env.example does not set it"
        return arg if "-" in op else ""

    return INTERPOLATION.sub(one, value)


def _seconds(duration: str) -> float:
    """A Compose or nginx duration ("30s", "1m30s", "660s", "660") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+)(ms|h|m|s)?", duration.strip())
    assert parts and "".join(n + u for n, u in parts) == duration.strip(), duration
    return sum(int(number) * units[unit or "s"] for number, unit in parts)


def _directive(conf: str, name: str) -> str:
    values = re.findall(rf"(?m)^\s*{name}\s+([^;]+);", conf)
    assert len(values) == 1, f"proxy.conf sets {name} {len(values)} times"
    return values[0].strip()


def test_the_compose_file_is_valid_against_the_compose_specification(compose):
    # The compose-spec project's own schema, as vendored (with its licence) by check-jsonschema.
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    assert schema["title"] == "Compose Specification"
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    errors = validator.iter_errors(compose)
    assert not [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors], "invalid compose.yaml"
    # And the schema does bite: a misspelt key in a service is refused, as `docker compose` refuses it.
    misspelt = copy.deepcopy(compose)
    misspelt["services"]["proxy"]["healthchek"] = misspelt["services"]["proxy"].pop("healthcheck")
    assert not validator.is_valid(misspelt)


def test_the_browser_servers_run_the_playwright_that_constraints_pins(compose):
    pinned = _pinned("playwright")
    browsers = _browser_services(compose)
    assert len(browsers) >= 2
    for name, service in browsers.items():
        assert service["image"] == f"{PLAYWRIGHT_IMAGE}:v{pinned}-noble", name
        command = service["command"]
        command = shlex.split(command) if isinstance(command, str) else command
        assert command[:3] == ["npx", "-y", f"playwright@{pinned}"] and command[3] == "run-server", name
        assert command[command.index("--host") + 1] == "0.0.0.0", name


def test_sentri_is_sent_to_every_browser_server_on_the_port_it_listens_on(compose):
    browsers = _browser_services(compose)
    listening = {}
    for name, service in browsers.items():
        command = service["command"]
        listening[name] = int(command[command.index("--port") + 1])
        assert f"http://127.0.0.1:{listening[name]}/" in " ".join(service["healthcheck"]["test"]), name
    for name, service in _sentri_services(compose).items():
        servers = {}
        for entry in _environment(service)["SENTRI_BROWSER_SERVERS"].split(","):
            endpoint, _, capacity = entry.strip().partition("#")
            url = urlsplit(endpoint)
            assert url.scheme == "ws" and (not capacity or int(capacity) > 0), entry
            servers[url.hostname] = url.port
        assert servers == listening, name


def test_every_sentri_variable_the_compose_file_sets_is_one_sentri_reads(compose):
    read = set(config.ENVIRONMENT) | {"SENTRI_INSTANCE_PATH"} | BEING_ADDED
    for name, service in compose["services"].items():
        unknown = {var for var in _environment(service) if var.startswith("SENTRI_")} - read
        assert not unknown, f"{name} sets {sorted(unknown)}, which Sentri does not read"


def test_both_replicas_share_one_configuration_that_sentri_accepts(compose):
    replicas = _sentri_services(compose)
    assert len(replicas) == 2
    environments = [_environment(service) for service in replicas.values()]
    assert all(env == environments[0] for env in environments), "the replicas must share one key and database"
    assert {service["image"] for service in replicas.values()} == {"sentri"}  # built once, run twice
    env = {var: _interpolate(value, _env_example()) for var, value in environments[0].items()}
    settings = config.from_environment(env)  # raises ConfigError on a value Sentri cannot parse
    assert settings["SENTRI_TRUSTED_PROXIES"] == 1  # nginx, the one proxy in front
    database = urlsplit(settings["SENTRI_DATABASE_URL"])
    assert database.scheme == "postgresql" and database.hostname == "postgres"
    assert compose["services"]["postgres"]["image"].startswith("postgres:")
    assert database.password == _env_example()["POSTGRES_PASSWORD"]
    assert database.path == "/" + _environment(compose["services"]["postgres"])["POSTGRES_DB"]
    limits = urlsplit(settings["SENTRI_RATELIMIT_STORAGE_URI"])
    assert limits.scheme == "redis" and limits.hostname == "redis"
    assert compose["services"]["redis"]["image"].startswith("redis:")
    assert settings["SENTRI_PUBLIC_URL"].startswith(("http://", "https://"))


def test_the_one_published_port_is_the_proxy_and_it_targets_every_replica_on_the_dockerfiles_port(
    compose, dockerfile, proxy_conf
):
    port = int(dockerfile["env"]["SENTRI_PORT"])
    assert dockerfile["expose"] == {port}
    services = compose["services"]
    published = {name: service["ports"] for name, service in services.items() if service.get("ports")}
    assert list(published) == ["proxy"] and len(published["proxy"]) == 1
    container_port = int(str(published["proxy"][0]).rsplit(":", 1)[1])
    assert _directive(proxy_conf, "listen") == str(container_port)
    mounts = [volume.split(":") for volume in services["proxy"]["volumes"]]
    assert ["./proxy.conf", "/etc/nginx/conf.d/default.conf", "ro"] in mounts
    upstream = re.search(r"upstream\s+(\w+)\s*\{([^}]*)\}", proxy_conf)
    assert _directive(proxy_conf, "proxy_pass") == f"http://{upstream[1]}"
    servers = set(re.findall(r"(?m)^\s*server\s+([\w.-]+):(\d+)", upstream[2]))
    assert servers == {(name, str(port)) for name in _sentri_services(compose)}


def test_the_proxy_sets_the_forwarded_headers_sentri_trusts(proxy_conf):
    # SENTRI_TRUSTED_PROXIES=1: ProxyFix believes the last X-Forwarded-For/-Proto/-Host/-Port, so each must
    # be set by nginx (never a client's passed on) or, for the port, not sent at all.
    headers = dict(re.findall(r"(?m)^\s*proxy_set_header\s+(\S+)\s+([^;]+);", proxy_conf))
    assert headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert headers["X-Forwarded-Host"] == "$http_host"
    assert headers["X-Forwarded-Port"] == '""'  # an empty value: nginx drops the client's header


def test_the_healthchecks_ask_a_path_the_app_answers(compose, dockerfile, client):
    port = dockerfile["env"]["SENTRI_PORT"]
    urls = set(re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w-]*)", dockerfile["healthcheck"]))
    for service in _sentri_services(compose).values():
        command = " ".join(service["healthcheck"]["test"])
        urls |= set(re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w-]*)", command))
    assert urls == {(port, "/healthz")}  # compose and the Dockerfile ask the same thing
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_every_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        check = service.get("healthcheck") or {}
        assert not check.get("disable") and check.get("test"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_secrets_come_from_the_environment_and_the_example_holds_only_placeholders(compose):
    required = set()
    for name, service in compose["services"].items():
        for var, value in _environment(service).items():
            url = urlsplit(value) if "://" in value else None
            secret = value if SECRET_NAME.search(var) else (url.password if url else None)
            if secret is None:
                continue
            match = INTERPOLATION.fullmatch(secret)
            assert match and match["op"] == ":?", f"{name}: {var} must be ${{NAME:?...}}, not a value"
            required.add(match["name"])
    assert required == {"SENTRI_SECRET_KEY", "POSTGRES_PASSWORD"}
    example = _env_example()
    for var in required:
        assert example[var] == "CHANGE-ME", var
    # A deployment that kept the placeholder refuses to start rather than sign tokens with a public key.
    with pytest.raises(config.SecretKeyTooShort):
        config.check_secret_key(example["SENTRI_SECRET_KEY"], "SENTRI_SECRET_KEY")
    # The real deploy/.env never lands in git nor, through the build context, in the image.
    for ignore in (".gitignore", ".dockerignore"):
        assert "deploy/.env" in (ROOT / ignore).read_text().splitlines(), ignore


def test_an_artifact_bucket_is_one_optional_file_away_and_the_example_is_what_sentri_accepts(compose):
    # Both replicas read deploy/artifacts.env when it exists; without it the shared volume keeps the artifacts.
    for name, service in _sentri_services(compose).items():
        assert service["env_file"] == [{"path": "artifacts.env", "required": False}], name
    lines = (DEPLOY / "artifacts.env.example").read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))
    assert {var for var in example if not var.startswith("AWS_")} == {"SENTRI_ARTIFACT_URL"}
    settings = config.from_environment(example)
    derived = {**config.DEFAULTS, **settings, "SECRET_KEY": "x" * 40}
    made = config.derive(derived, str(ROOT / "instance"))  # raises ConfigError on a URL Sentri refuses
    assert made.artifact_bucket.bucket == "sentri-artifacts"
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert example[var] == "CHANGE-ME", var
    for ignore in (".gitignore", ".dockerignore"):
        assert "deploy/artifacts.env" in (ROOT / ignore).read_text().splitlines(), ignore


def test_data_lives_in_named_volumes_and_the_replicas_share_the_instance_folder(compose, dockerfile):
    instance = dockerfile["env"]["SENTRI_INSTANCE_PATH"]
    assert instance in dockerfile["volumes"]
    declared = set(compose["volumes"])
    mounts = {}  # service -> {target: source}
    for name, service in compose["services"].items():
        pairs = (volume.split(":") for volume in service.get("volumes", []))
        mounts[name] = {target: source for source, target, *_ in pairs}
    assert {mounts[name].get(instance) for name in _sentri_services(compose)} == {"sentri-instance"}
    assert mounts["postgres"]["/var/lib/postgresql/data"] in declared
    sources = {source for service in mounts.values() for source in service.values()}
    named = {source for source in sources if not source.startswith((".", "/"))}
    assert named <= declared


def test_sentri_outlasts_its_shutdown_grace_and_the_proxy_its_longest_request(compose, proxy_conf):
    for name, service in _sentri_services(compose).items():
        grace = int(
            _environment(service).get("SENTRI_SHUTDOWN_GRACE_SECONDS")
            or config.DEFAULTS["SENTRI_SHUTDOWN_GRACE_SECONDS"]
        )
        # Docker sends SIGKILL after stop_grace_period: running tests must have been handed back by then.
        assert _seconds(service["stop_grace_period"]) > grace, name
    wait = config.DEFAULTS["SENTRI_WAIT_MAX_SECONDS"]
    assert _seconds(_directive(proxy_conf, "proxy_read_timeout")) > wait  # a `wait: true` trigger holds on
    size = _directive(proxy_conf, "client_max_body_size")
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()
    limit = int(number) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit.lower()]
    assert limit > config.DEFAULTS["MAX_CONTENT_LENGTH"]  # Sentri, not nginx, answers an oversized upload


def test_only_sentri_reaches_the_browser_servers_and_the_data(compose):
    # run-server has no authentication, PostgreSQL and Redis no business outside: no published port, and
    # no network shared with anything but the replicas and their own kind.
    services = compose["services"]
    sentri = set(_sentri_services(compose))
    for kind in (set(_browser_services(compose)), {"postgres", "redis"}):
        for name in kind:
            assert not services[name].get("ports"), name
            for network in services[name]["networks"]:
                members = {other for other, svc in services.items() if network in svc.get("networks", [])}
                assert members <= sentri | kind and members & sentri, (name, network, sorted(members))
    for network in services["postgres"]["networks"] + services["redis"]["networks"]:
        assert compose["networks"][network].get("internal") is True, network
