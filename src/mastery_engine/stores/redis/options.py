"""Redis store URLs: this store's options, redis-py's own, and errors without their command."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mastery_engine.core.errors import InvalidConfig

OPTIONS = {"prefix": "", "cache_students": "2000"}
# redis-py's own URL options, passed through.
CLIENT_OPTIONS = ("socket_timeout", "socket_connect_timeout")
TLS_OPTIONS = ("ssl_cert_reqs", "ssl_ca_certs")
CLUSTER_FORM = "redis-cluster://host:port[,host:port…]/"


def options_of(url: str) -> tuple[str, str, int]:
    """(URL for redis-py, key prefix, cache_students), refusing unknown options."""
    parts = urlsplit(url)
    given = parse_qsl(parts.query, keep_blank_values=True)
    tls = parts.scheme in ("rediss", "rediss-cluster")
    allowed = [*OPTIONS, *CLIENT_OPTIONS, *(TLS_OPTIONS if tls else ())]
    unknown = sorted({name for name, _ in given} - set(allowed))
    if unknown:
        raise InvalidConfig(
            f"unknown Redis URL options {unknown}; allowed with {parts.scheme}://: "
            + ", ".join(allowed),
            field="MASTERY_STORE_URL",
        )
    ours = OPTIONS | {name: value for name, value in given if name in OPTIONS}
    if "{" in ours["prefix"] or "}" in ours["prefix"]:
        raise InvalidConfig("Redis prefix must not contain '{' or '}' (they mark hash tags)")
    if not ours["cache_students"].isdigit():
        raise InvalidConfig(
            f"cache_students must be a whole number, not {ours['cache_students']!r}"
        )
    rest = urlencode([(name, value) for name, value in given if name not in OPTIONS])
    return urlunsplit(parts._replace(query=rest)), ours["prefix"], int(ours["cache_students"])


def where_of(url: str) -> str:
    """`host:port/db` of a Redis URL, without credentials, for error messages."""
    parts = urlsplit(url)
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise InvalidConfig(f"Redis store URL has an invalid port: {exc}") from exc
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise InvalidConfig(f"Redis database must be a number (redis://host:port/0), not {db!r}")
    return f"{parts.hostname or 'localhost'}:{port}/{db}"


def cluster_of(url: str) -> tuple[str, list[tuple[str, int]], str]:
    """(redis-py URL of the first node, every node's host and port, `where`) of a cluster URL."""
    parts = urlsplit(url)
    if parts.path not in ("", "/", "/0"):
        raise InvalidConfig(
            f"a Redis Cluster has only database 0: end the URL with / or /0 ({CLUSTER_FORM}),"
            f" not {parts.path!r}",
            field="MASTERY_STORE_URL",
        )
    credentials, at, hosts = parts.netloc.rpartition("@")
    nodes = [node_of(host) for host in hosts.split(",")]
    scheme = "rediss" if parts.scheme == "rediss-cluster" else "redis"
    first = urlunsplit((scheme, credentials + at + hosts.split(",")[0], "", parts.query, ""))
    return first, nodes, ",".join(f"{host}:{port}" for host, port in nodes)


def node_of(text: str) -> tuple[str, int]:
    """Host and port of one `host:port` of a cluster URL (6379 when the port is left out)."""
    parts = urlsplit(f"//{text}")
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise InvalidConfig(f"Redis Cluster node {text!r} has an invalid port: {exc}") from exc
    if not parts.hostname:
        raise InvalidConfig(
            f"Redis Cluster nodes are host:port separated by commas ({CLUSTER_FORM}), not {text!r}",
            field="MASTERY_STORE_URL",
        )
    return parts.hostname, port


def reason(exc: BaseException) -> str:
    """What went wrong, without the copy of the command a pipeline adds (it holds events)."""
    text = str(exc)
    _, found, said = text.partition(" of pipeline caused error: ")
    return said.strip("(),'\"") if found else text
