"""REST serving: ``sparkwright serve`` (a Spark ML pipeline through its NumPy export) against
``mlflow models serve`` of the same registered Spark model (Spark per request), single-row requests;
and the same pipeline taking raw (source-shaped) rows against taking silver rows.

    .venv/bin/python benchmarks/bench_rest.py [--workers 1,2] [--seconds 10] [--warmup 3] [--repeats 1]
                                              [--workspace DIR] [--models random_forest]
                                              [--servers sparkwright,sparkwright-silver,mlflow]

Trains two pipelines with ``sparkwright.run`` on the bundled hotel_rates example (26 input columns:
a random forest of 40 trees of depth 8, and a linear regression; both on log(price), so each pipeline
ends with sparkwright's ``EXP`` stage), registers them in a workspace of their own and exports them
(``export_version``, what ``sparkwright export`` runs). ``--workspace DIR`` keeps that workspace and
reuses it next time.

The registered models take raw rows (they prepare them: types, the "missing" level, indicators, rules).
``sparkwright-silver`` serves a twin of each: the same fitted stages without the preparation, logged
and registered as a model that takes silver rows (what models did before), sent the same rows in
silver shape; it measures what the preparation costs per request.

Each server runs alone on 127.0.0.1, with each worker count of ``--workers`` (``sparkwright serve
--workers N``, ``mlflow models serve --workers N``; default 1, both servers' default). Before the
measurements both score the same 50 rows, and their predictions are compared. Load comes from
a second process (this file's ``loadgen`` command): raw HTTP/1.1 over keep-alive sockets driven by one
``selectors`` loop, one connection per concurrent client, each sending its next request as soon as its
answer is in; requests cycle through 200 real rows. The load generator reports its own CPU time per
request, and is first run against a trivial HTTP server (``echo``) to show the ceiling it can drive.

Prints p50 / p99 latency, throughput and server CPU per request at concurrency 1 and 16 with the
sparkwright / MLflow ratios; writes benchmarks/results/rest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HOST = "127.0.0.1"
MODELS = {
    "random_forest": {"type": "random_forest", "params": {"numTrees": 40, "maxDepth": 8}},
    "linear_regression": {"type": "linear_regression", "params": {"regParam": 0.01, "elasticNetParam": 0.0}},
}
REQUEST_ROWS = 200
CONCURRENCY = (1, 16)
VENV_BIN = Path(sys.executable).parent


# ---- setup: train, register, export (once per workspace) ------------------------------------------


def prepare(root: Path) -> dict[str, dict[str, Any]]:
    """Register and export each model of MODELS in the workspace ``root``; reuse what is already there.

    Returns, per model: its ``models:/`` URI, its signature's inputs and REQUEST_ROWS rows to send.
    """
    manifest = root / "rest_models.json"
    if manifest.exists():
        print(f"reusing the models of {root}")
        return json.loads(manifest.read_text())

    from pyspark.sql import functions

    import sparkwright
    from sparkwright.config import load_project
    from sparkwright.data import read_source
    from sparkwright.demo import materialise_example
    from sparkwright.deploy.exported import export_version
    from sparkwright.registry import Registry
    from sparkwright.session import get_session
    from sparkwright.tracking import Tracker
    from sparkwright.workspace import Workspace

    spark = get_session()
    ws = Workspace(root)
    project_file = materialise_example("hotel_rates", ws)
    registry = Registry(Tracker(ws.tracking_uri, ws.artifacts))
    prepared: dict[str, dict[str, Any]] = {}
    for key, spec in MODELS.items():
        config = yaml.safe_load(project_file.read_text())
        config["name"] = f"rest-{key.replace('_', '-')}"
        config["explore"] = {"enabled": False}
        config.pop("search", None)  # the example searches across families; here each run trains one model
        config["models"] = [spec]
        config["register"] = {"name": config["name"], "promote_if_better": True}
        model_file = project_file.with_name(f"{config['name']}.yaml")
        model_file.write_text(yaml.safe_dump(config))
        started = time.perf_counter()
        result = sparkwright.run(model_file, spark=spark, workspace=root)
        uri = f"models:/{result.registered_model}/{result.registered_version}"
        print(f"{key}: trained and registered {uri} in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        export_version(spark, registry, uri, root / "exports" / key)
        print(f"{key}: exported in {time.perf_counter() - started:.1f} s")
        inputs = _signature_inputs(registry, uri)
        accepted, _ = read_source(spark, load_project(model_file).data.source)
        sample = accepted.select([name for name, _ in inputs]).dropna().orderBy(functions.rand(seed=7))
        raw_rows = sample.limit(REQUEST_ROWS).cache()
        silver_uri, silver_rows = _silver_twin(registry, result, uri, raw_rows, root / "exports" / f"{key}-silver")
        silver_inputs = _signature_inputs(registry, silver_uri)
        prepared[key] = {
            "uri": uri,
            "inputs": inputs,
            "rows": [_json_record(r, inputs) for r in raw_rows.toPandas().to_dict("records")],
            "silver_uri": silver_uri,
            "silver_rows": [_json_record(r, silver_inputs) for r in silver_rows.toPandas().to_dict("records")],
        }
    manifest.write_text(json.dumps(prepared))
    return prepared


def _silver_twin(registry: Any, result: Any, uri: str, raw_rows: Any, export_to: Path) -> tuple[str, Any]:
    """The registered raw model's fitted stages without its preparation, logged, registered and exported as a
    model that takes silver rows; returns its URI and ``raw_rows`` as silver rows (prepared by the model)."""
    import mlflow.spark
    from pyspark.ml import PipelineModel

    from sparkwright.data.preparation import REASON_COL, preparation_of
    from sparkwright.deploy.exported import export_version
    from sparkwright.models import predict
    from sparkwright.registry import parse_model_ref

    info = registry.resolve(parse_model_ref(uri))
    raw_model = mlflow.spark.load_model(str(registry.tracker.download_model(info.source)))
    preparation = preparation_of(raw_model)
    silver_model = PipelineModel(stages=raw_model.stages[1:-1])
    silver_rows = preparation.apply(raw_rows).drop(REASON_COL).cache()
    tracker = registry.tracker
    name = f"{result.registered_model}-silver"
    with tracker.run(result.experiment_id, name) as run_id:
        example = silver_rows.limit(5)
        logged = tracker.log_spark_model(
            run_id,
            silver_model,
            input_example=example.toPandas(),
            predictions=predict(silver_model, example).select("prediction").toPandas(),
        )
    version = tracker.register(logged, name)
    silver_uri = f"models:/{name}/{version}"
    export_version(raw_rows.sparkSession, registry, silver_uri, export_to)
    return silver_uri, silver_rows


def _signature_inputs(registry: Any, uri: str) -> list[tuple[str, str]]:
    from mlflow.models import Model

    from sparkwright.registry import parse_model_ref

    info = registry.resolve(parse_model_ref(uri))
    signature = Model.load(str(registry.tracker.download_model(info.source) / "MLmodel")).signature
    return [(c.name, getattr(c.type, "name", str(c.type))) for c in signature.inputs.inputs]


def _json_record(row: dict[str, Any], inputs: list[tuple[str, str]]) -> dict[str, Any]:
    """A row as JSON wants it: integers as integers, doubles as floats (``3.0``, not ``3``)."""
    cast = {"long": int, "integer": int, "double": float, "float": float, "boolean": bool, "string": str}
    return {name: cast[kind](row[name]) for name, kind in inputs}


# ---- servers ---------------------------------------------------------------------------------------


class Server:
    """A server process: started, waited for, its CPU time read from /proc (with its children), stopped."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, ready_path: str):
        self.name, self.command, self.env, self.port, self.ready_path = name, command, env, port, ready_path
        self.log_path = Path(tempfile.mkdtemp(prefix="bench-rest-")) / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        import httpx

        started = time.perf_counter()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 600
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://{HOST}:{self.port}{self.ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        else:
            raise RuntimeError(f"{self.name} did not answer within 600 s")
        self.start_seconds = time.perf_counter() - started
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and every process under it (a JVM, uvicorn workers)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _server_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SPARKWRIGHT_TRACKING_URI")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # mlflow runs `uvicorn` from the PATH
    return env


def sparkwright_server(root: Path, uri: str, workers: int) -> Server:
    port = _free_port()
    command = [str(VENV_BIN / "sparkwright"), "serve", "--model", uri, "--port", str(port), "--workspace", str(root),
               "--workers", str(workers)]  # fmt: skip
    return Server("sparkwright", command, _server_env(root), port, "/health")


def mlflow_server(root: Path, uri: str, workers: int) -> Server:
    port = _free_port()
    command = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", uri, "--host", HOST, "--port", str(port),
               "--env-manager", "local", "--workers", str(workers)]  # fmt: skip
    return Server("mlflow", command, _server_env(root), port, "/ping")


SERVERS = {
    "sparkwright": (sparkwright_server, "/predict"),
    "sparkwright-silver": (sparkwright_server, "/predict"),  # the same pipeline without its preparation
    "mlflow": (mlflow_server, "/invocations"),
}


class EchoServer(Server):
    """The trivial endpoint: a fixed 200 answer to every request, to measure the load generator alone."""

    def __init__(self) -> None:
        port = _free_port()
        command = [sys.executable, __file__, "echo", "--port", str(port)]
        super().__init__("echo", command, dict(os.environ), port, "/")


# ---- load generation (run in a second process) ----------------------------------------------------


def run_loadgen(server: Server, path: str, bodies: list[str], concurrency: int, args: argparse.Namespace) -> dict:
    """Run the load generator process against ``server`` and return its summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(bodies, handle)
    assert server.process is not None
    command = [sys.executable, __file__, "loadgen", "--port", str(server.port), "--path", path, "--bodies",
               handle.name, "--concurrency", str(concurrency), "--server-pid", str(server.process.pid),
               *_window_options(args)]  # fmt: skip
    try:
        out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=2 * args.max_seconds + 60)
    finally:
        os.unlink(handle.name)
    return json.loads(out.stdout)


def add_window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=10, help="Measured seconds per server and concurrency.")
    parser.add_argument("--warmup", type=float, default=3, help="Seconds of load before each measurement.")
    parser.add_argument(
        "--min-requests", type=int, default=200, help="Measure a slow server until it answered this many."
    )
    parser.add_argument("--max-seconds", type=float, default=60, help="... but no longer than this.")


def _window_options(args: argparse.Namespace) -> list[str]:
    names = ("seconds", "warmup", "min_requests", "max_seconds")
    return [item for name in names for item in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]


def loadgen(
    port: int, path: str, bodies: list[bytes], concurrency: int, options: argparse.Namespace, server_pid: int | None
) -> dict:
    """``concurrency`` keep-alive connections, each sending its next request when its answer is complete.

    Latency runs from the request's send to the last byte of its answer. Warm-up lasts ``options.warmup``
    seconds and at least two answers per connection; the measured window then lasts ``options.seconds``
    and until ``options.min_requests`` answers are in (a slow server is measured longer), at most
    ``options.max_seconds``. The CPU time of this process and of the server's process tree is read at both
    ends of the window.
    """
    requests = [
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
        for body in bodies
    ]
    selector = selectors.DefaultSelector()
    state: dict[socket.socket, list[Any]] = {}  # socket -> [buffer, sent_at]
    counter = 0

    def send(sock: socket.socket) -> None:
        nonlocal counter
        request = requests[counter % len(requests)]
        counter += 1
        state[sock][1] = time.perf_counter()
        sock.sendall(request)

    def cpu_now() -> tuple[float, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime, tree_cpu_seconds(server_pid) if server_pid else math.nan

    for _ in range(concurrency):
        sock = socket.create_connection((HOST, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state[sock] = [bytearray(), 0.0]
        selector.register(sock, selectors.EVENT_READ)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    first_error = None
    warm_answers = 0
    started = time.perf_counter()
    window_start: float | None = None
    cpu_start = (math.nan, math.nan)
    for sock in state:
        send(sock)
    while True:
        now = time.perf_counter()
        if window_start is None:
            warm = now >= started + options.warmup and warm_answers >= 2 * concurrency
            if warm or now >= started + options.max_seconds:
                window_start, cpu_start = now, cpu_now()
        elif now >= window_start + options.seconds and (
            len(latencies) >= options.min_requests or now >= window_start + options.max_seconds
        ):
            break
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            chunk = sock.recv(262144)
            if not chunk:
                raise ConnectionError("the server closed a keep-alive connection")
            buffer = state[sock][0]
            buffer += chunk
            answer = _complete_response(buffer)
            if answer is None:
                continue
            done = time.perf_counter()
            status, body, used = answer
            del buffer[:used]
            if window_start is None:
                warm_answers += 1
            else:
                latencies.append(done - state[sock][1])
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200 and first_error is None:
                    first_error = body[:500].decode(errors="replace")
            send(sock)
    window_end, cpu_end = time.perf_counter(), cpu_now()
    for sock in state:
        sock.close()
    return {
        "latencies_ms": [round(v * 1000, 4) for v in latencies],
        "statuses": statuses,
        "first_error": first_error,
        "seconds": window_end - window_start,
        "client_cpu_seconds": cpu_end[0] - cpu_start[0],
        "server_cpu_seconds": cpu_end[1] - cpu_start[1],
    }


def _complete_response(buffer: bytearray) -> tuple[int, bytes, int] | None:
    """(status, body, bytes used) once ``buffer`` holds a whole HTTP/1.1 response, else None."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip() for line in head[1:]}
    start = head_end + 4
    if "content-length" in headers:
        end = start + int(headers["content-length"])
        return (status, bytes(buffer[start:end]), end) if len(buffer) >= end else None
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, position = bytearray(), start
        while True:
            line_end = buffer.find(b"\r\n", position)
            if line_end < 0:
                return None
            size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
            if len(buffer) < line_end + 2 + size + 2:
                return None
            if size == 0:
                return status, bytes(body), line_end + 4
            body += buffer[line_end + 2 : line_end + 2 + size]
            position = line_end + 2 + size + 2
    raise ValueError(f"a response without Content-Length or chunked encoding: {head}")


def echo(port: int) -> None:
    """A fixed answer to every request, from a bare asyncio protocol: about the cheapest HTTP server."""
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport, self.buffer = transport, bytearray()

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (head_end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = bytes(self.buffer[:head_end]).lower()
                marker = head.find(b"content-length:")
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0]) if marker >= 0 else 0
                if len(self.buffer) < head_end + 4 + length:
                    return
                del self.buffer[: head_end + 4 + length]
                self.transport.write(answer)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, HOST, port)
        await server.serve_forever()

    asyncio.run(serve())


# ---- measurement and report -----------------------------------------------------------------------


def summarise(raw: dict) -> dict[str, Any]:
    latencies = sorted(raw["latencies_ms"])
    count = len(latencies)
    if raw["statuses"] != {"200": count}:
        raise RuntimeError(f"answers other than 200: {raw['statuses']}: {raw['first_error']}")
    return {
        "requests": count,
        "seconds": raw["seconds"],
        "p50_ms": _quantile(latencies, 0.50),
        "p99_ms": _quantile(latencies, 0.99),
        "mean_ms": statistics.fmean(latencies),
        "throughput_rps": count / raw["seconds"],
        "client_cpu_us_per_request": raw["client_cpu_seconds"] / count * 1e6,
        "server_cpu_ms_per_request": raw["server_cpu_seconds"] / count * 1000,
    }


def _quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile (p99 of 100 values is the 99th)."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def measure(server: Server, path: str, bodies: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Load at each concurrency of CONCURRENCY, one after the other, against the running ``server``."""
    results = {}
    for concurrency in CONCURRENCY:
        load_before = os.getloadavg()[0]
        summary = summarise(run_loadgen(server, path, bodies, concurrency, args))
        summary["load_average_1m"] = (load_before, os.getloadavg()[0])
        results[str(concurrency)] = summary
        print(
            f"  {server.name:11} c={concurrency:<3} p50 {summary['p50_ms']:8.2f} ms  p99 {summary['p99_ms']:8.2f} ms  "
            f"{summary['throughput_rps']:8.1f} req/s ({summary['requests']} in {summary['seconds']:.0f} s)  "
            f"server CPU {summary['server_cpu_ms_per_request']:6.2f} ms/req  "
            f"client CPU {summary['client_cpu_us_per_request']:4.0f} us/req  load {load_before:.1f}"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    gen = sub.add_parser("loadgen", help="(internal) the load generator process")
    gen.add_argument("--port", type=int, required=True)
    gen.add_argument("--path", required=True)
    gen.add_argument("--bodies", required=True, help="A JSON file: a list of request bodies (strings).")
    gen.add_argument("--concurrency", type=int, default=1)
    gen.add_argument("--server-pid", type=int, default=None, help="Read this process tree's CPU time.")
    add_window_options(gen)
    echo_parser = sub.add_parser("echo", help="(internal) the trivial endpoint")
    echo_parser.add_argument("--port", type=int, required=True)
    add_window_options(parser)
    parser.add_argument("--repeats", type=int, default=1, help="Rounds; the order of the servers alternates.")
    parser.add_argument("--workspace", type=Path, default=None, help="Keep the trained models here; reused.")
    parser.add_argument("--models", default=",".join(MODELS), help="Comma-separated subset of MODELS.")
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"Comma-separated subset of {list(SERVERS)}.")
    parser.add_argument("--workers", default="1", help="Comma-separated worker counts to run each server with.")
    args = parser.parse_args()

    if args.command == "loadgen":
        bodies = [body.encode() for body in json.loads(Path(args.bodies).read_text())]
        print(json.dumps(loadgen(args.port, args.path, bodies, args.concurrency, args, args.server_pid)))
        return
    if args.command == "echo":
        echo(args.port)
        return

    for name in ("MLFLOW_TRACKING_URI", "SPARKWRIGHT_TRACKING_URI"):  # the store is the workspace's own
        os.environ.pop(name, None)
    root = (args.workspace or Path(tempfile.mkdtemp(prefix="sparkwright-bench-rest-"))).resolve()
    prepared = prepare(root)
    report: dict[str, Any] = {
        "seconds": args.seconds,
        "warmup": args.warmup,
        "min_requests": args.min_requests,
        "max_seconds": args.max_seconds,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "started": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_at_start": os.getloadavg(),
    }

    print("\nload generator against a trivial endpoint (its own ceiling):")
    with EchoServer() as server:
        report["echo"] = measure(server, "/", ['{"records": []}'], args)

    servers = args.servers.split(",")
    unknown = sorted(set(servers) - set(SERVERS))
    if unknown:
        parser.error(f"unknown servers {unknown}; choose from {list(SERVERS)}")
    contenders = [(name, int(w)) for w in args.workers.split(",") for name in SERVERS if name in servers]
    report["models"] = {}
    for key in args.models.split(","):
        model = prepared[key]
        print(f"\n{key} ({model['uri']}, {len(model['inputs'])} input columns):")
        bodies = {
            "sparkwright": [json.dumps({"records": [row]}) for row in model["rows"]],
            "sparkwright-silver": [json.dumps({"records": [row]}) for row in model["silver_rows"]],
            "mlflow": [json.dumps({"dataframe_records": [row]}) for row in model["rows"]],
        }
        uris = {"sparkwright": model["uri"], "sparkwright-silver": model["silver_uri"], "mlflow": model["uri"]}
        if "mlflow" in servers:
            difference = check_same_predictions(root, model)
            print(f"  same predictions from sparkwright and mlflow: max relative difference {difference:.1e}")
            report["models"][key] = {"max_relative_difference": difference}
        if "sparkwright-silver" in servers:
            difference = check_raw_equals_silver(root, model)
            print(f"  same predictions from raw and silver rows: max relative difference {difference:.1e}")
            report["models"].setdefault(key, {})["raw_vs_silver_max_relative_difference"] = difference
        rounds: dict[str, list[dict]] = {f"{name} w{workers}": [] for name, workers in contenders}
        for repeat in range(args.repeats):
            for name, workers in contenders if repeat % 2 == 0 else contenders[::-1]:
                start, path = SERVERS[name]
                with start(root, uris[name], workers) as server:
                    print(f"  {name} with {workers} worker(s) answered after {server.start_seconds:.1f} s")
                    rounds[f"{name} w{workers}"].append(measure(server, path, bodies[name], args))
        report["models"].setdefault(key, {}).update({label: _medians(runs) for label, runs in rounds.items()})
        report.setdefault("rounds", {})[key] = rounds
    report["load_average_at_end"] = os.getloadavg()
    print_report(report)

    out = Path(__file__).resolve().parent / "results" / "rest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")
    if args.workspace is None:
        shutil.rmtree(root, ignore_errors=True)


def check_same_predictions(root: Path, model: dict[str, Any]) -> float:
    """Max relative difference between the two servers' predictions of 50 request rows, sent as one batch."""
    import httpx

    rows = model["rows"][:50]
    with sparkwright_server(root, model["uri"], 1) as ours, mlflow_server(root, model["uri"], 1) as theirs:
        left = httpx.post(f"http://{HOST}:{ours.port}/predict", json={"records": rows}, timeout=120)
        right = httpx.post(f"http://{HOST}:{theirs.port}/invocations", json={"dataframe_records": rows}, timeout=120)
    left.raise_for_status()
    right.raise_for_status()
    theirs_predictions = [r["prediction"] if isinstance(r, dict) else r for r in right.json()["predictions"]]
    pairs = zip(left.json()["predictions"], theirs_predictions, strict=True)
    return max(abs(a - b) / max(abs(b), 1e-300) for a, b in pairs)


def check_raw_equals_silver(root: Path, model: dict[str, Any]) -> float:
    """Max relative difference between the raw model's predictions of 50 raw rows and its silver twin's of the
    same rows in silver shape."""
    import httpx

    with sparkwright_server(root, model["uri"], 1) as raw, sparkwright_server(root, model["silver_uri"], 1) as silver:
        left = httpx.post(f"http://{HOST}:{raw.port}/predict", json={"records": model["rows"][:50]}, timeout=120)
        right = httpx.post(
            f"http://{HOST}:{silver.port}/predict", json={"records": model["silver_rows"][:50]}, timeout=120
        )
    left.raise_for_status()
    right.raise_for_status()
    pairs = zip(left.json()["predictions"], right.json()["predictions"], strict=True)
    return max(abs(a - b) / max(abs(b), 1e-300) for a, b in pairs)


def _medians(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per concurrency, the median of each figure over the repeats, and every round's load averages."""
    merged: dict[str, dict[str, Any]] = {}
    for concurrency in runs[0]:
        rounds = [r[concurrency] for r in runs]
        merged[concurrency] = {
            figure: statistics.median(r[figure] for r in rounds) for figure in rounds[0] if figure != "load_average_1m"
        }
        merged[concurrency]["load_average_1m"] = [r["load_average_1m"] for r in rounds]
    return merged


def _paired_ratios(raw_rounds: list[dict] | None, silver_rounds: list[dict] | None, concurrency: str) -> str:
    """Raw / silver of each round's back-to-back pair, their median: a server's latency on 2 shared cores
    is bimodal from round to round, and the medians of the two sides can come from different modes."""
    if not raw_rounds or not silver_rounds:
        return ""
    pairs = list(zip(raw_rounds, silver_rounds, strict=True))
    p50 = statistics.median(r[concurrency]["p50_ms"] / s[concurrency]["p50_ms"] for r, s in pairs)
    rps = statistics.median(r[concurrency]["throughput_rps"] / s[concurrency]["throughput_rps"] for r, s in pairs)
    return f"; median of {len(pairs)} paired rounds: p50 {p50:.3f}x, throughput {rps:.3f}x"


def print_report(report: dict[str, Any]) -> None:
    print(
        f"\n{'model':18} {'server':15} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'server CPU ms/req':>18}"
    )
    for key, result in report["models"].items():
        labels = [label for label in result if not label.endswith("max_relative_difference")]
        for label in labels:
            for concurrency, r in result[label].items():
                print(
                    f"{key:18} {label:15} {concurrency:>4} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                    f"{r['throughput_rps']:8.1f} {r['server_cpu_ms_per_request']:18.2f}"
                )
        for label in labels:
            theirs = result.get(label.replace("sparkwright", "mlflow"))
            if not label.startswith("sparkwright") or theirs is None:
                continue
            for concurrency, ours in result[label].items():
                print(
                    f"{'':18} {'ratio ' + label.split()[1]:15} {concurrency:>4} p50 mlflow / sparkwright "
                    f"{theirs[concurrency]['p50_ms'] / ours['p50_ms']:.0f}x, throughput sparkwright / mlflow "
                    f"{ours['throughput_rps'] / theirs[concurrency]['throughput_rps']:.0f}x"
                )
        for label in labels:
            silver = result.get(label.replace("sparkwright", "sparkwright-silver"))
            if not label.startswith("sparkwright ") or silver is None:
                continue
            paired = report.get("rounds", {}).get(key, {})
            for concurrency, raw in result[label].items():
                print(
                    f"{'':18} {'raw/silver ' + label.split()[1]:15} {concurrency:>4} p50 raw / silver "
                    f"{raw['p50_ms'] / silver[concurrency]['p50_ms']:.3f}x, throughput raw / silver "
                    f"{raw['throughput_rps'] / silver[concurrency]['throughput_rps']:.3f}x"
                    + _paired_ratios(
                        paired.get(label), paired.get(label.replace("sparkwright", "sparkwright-silver")), concurrency
                    )
                )
    for concurrency, r in report["echo"].items():
        print(
            f"load generator vs trivial endpoint, c={concurrency}: {r['throughput_rps']:.0f} req/s, "
            f"p50 {r['p50_ms']:.3f} ms, client CPU {r['client_cpu_us_per_request']:.0f} us/req"
        )


if __name__ == "__main__":
    main()
