#!/usr/bin/env python3
"""Backend figures for `make bench`: BENCH <name> <value> <unit> lines on stdout.

Runs the real `dyn53-backend serve` against a private moto_server on loopback ports:
- backend_cold_init_ms: process start to the first answered get (SDK clients built, the
  nonce key read or created), median of BENCH_COLD_STARTS (default 5) starts;
- backend_{unchanged,changed}_{p50,p99}_ms: v2 set latency on one keep-alive connection
  (changed alternates two explicit addresses, so every set is an UPSERT);
- backend_peak_rss_kib: the service's peak resident memory (VmHWM) after the run;
- backend_cold_first_set_{plain,sealed}_ms: the first set after the service starts (get,
  then an unchanged set), for a host whose secret is stored in plaintext and for one sealed
  with the KMS data key (docs/THREATS.md "Secrets at rest"); the sealed one pays one KMS
  Decrypt. Median of BENCH_COLD_STARTS starts each, interleaved, the same service settings.

Bounded: N requests each (BENCH_REQUESTS, default 200), loopback only, stops by itself.
Binary: $DYN53_BACKEND_BIN, else target/backend/dyn53-backend (built with the `backend`
profile if missing). Progress goes to stderr.
"""

import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
N = int(os.environ.get("BENCH_REQUESTS", "200"))
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "5"))


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} did not open")


def backend_bin():
    given = os.environ.get("DYN53_BACKEND_BIN")
    if given:
        return given
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    path = os.path.join(target, "backend", "dyn53-backend")
    log("building dyn53-backend (cargo build --profile backend)")
    subprocess.run(
        ["cargo", "build", "-q", "--locked", "--profile", "backend", "-p", "dyn53-backend"],
        cwd=REPO,
        check=True,
    )
    return path


def sign(secret, host, rtype, ip, mode, nonce):
    canonical = f"dyn53-v2\n{host}\n{rtype}\n{ip}\n{mode}\n{nonce}\n"
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def post(conn, body):
    conn.request("POST", "/", body=json.dumps(body), headers={"content-type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read())


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    binary = backend_bin()
    procs = []
    try:
        moto_port = free_port()
        procs.append(subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(moto_port)
        env = dict(os.environ,
                   AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}", AWS_REGION="us-east-1",
                   AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="test",
                   AWS_SECRET_ACCESS_KEY="test", DYN53_TABLE="dyn53-bench",
                   DYN53_RATE_LIMIT="1000000/60", DYN53_CHANGE_LIMIT="1000000/60")
        import boto3  # moto's own dependency

        def client(service):
            return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"],
                                region_name="us-east-1", aws_access_key_id="test",
                                aws_secret_access_key="test")

        zone = client("route53").create_hosted_zone(
            Name="bench.example.net", CallerReference="bench")["HostedZone"]["Id"]
        env["DYN53_TOPIC_ARN"] = client("sns").create_topic(Name="dyn53-bench")["TopicArn"]
        subprocess.run([binary, "table", "create"], env=env, check=True, stdout=subprocess.DEVNULL)
        host = "home.bench.example.net"
        out = subprocess.run([binary, "host", "add", host, "--zone-id", zone.split("/")[-1],
                              # The flips below are documentation addresses, not public.
                              "--allow-explicit-ip", "--allow-private-ip"], env=env, check=True,
                             capture_output=True, text=True).stdout
        lines = out.splitlines()
        secret = lines[lines.index(next(l for l in lines if l.startswith("Secret"))) + 1].strip()

        def cold_start():
            """Starts the service; returns it, its port and ms from exec to the first answer."""
            port = free_port()
            start = time.monotonic()
            proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    status, answer = post(conn, {"execution_mode": "get", "protocol": 2})
                    if status == 200 and answer.get("nonce"):
                        return proc, port, (time.monotonic() - start) * 1000
                except OSError:
                    pass
                if time.monotonic() - start > 60:
                    sys.exit("the service did not answer")
                time.sleep(0.005)

        # Median of several cold starts; the last service stays up for the latency runs.
        inits = []
        for i in range(COLD_STARTS):
            serve, port, ms = cold_start()
            inits.append(ms)
            if i < COLD_STARTS - 1:
                serve.terminate()
                serve.wait(timeout=10)
        print(f"BENCH backend_cold_init_ms {pct(inits, 50):.1f} ms")

        def run(name, ips, want):
            samples = []
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for i in range(N):
                ip = ips[i % len(ips)]
                _, got = post(conn, {"execution_mode": "get", "protocol": 2})
                nonce = got["nonce"]
                body = {"execution_mode": "set", "protocol": 2, "ddns_hostname": host,
                        "record_type": "A", "ip": ip, "ip_mode": "explicit", "nonce": nonce,
                        "signature": sign(secret, host, "A", ip, "explicit", nonce)}
                t0 = time.monotonic()
                status, got = post(conn, body)
                samples.append((time.monotonic() - t0) * 1000)
                if got.get("result") != want:
                    sys.exit(f"{name}: request {i} answered {status} {got}")
            print(f"BENCH backend_{name}_p50_ms {pct(samples, 50):.2f} ms")
            print(f"BENCH backend_{name}_p99_ms {pct(samples, 99):.2f} ms")

        flip = ["198.51.100.1", "198.51.100.2"]
        log(f"{N} changed sets")
        run("changed", flip, "changed")
        log(f"{N} unchanged sets")
        run("unchanged", [flip[(N - 1) % 2]], "unchanged")
        with open(f"/proc/{serve.pid}/status") as f:
            hwm = next(l for l in f if l.startswith("VmHWM:")).split()[1]
        print(f"BENCH backend_peak_rss_kib {hwm} KiB")
        serve.terminate()
        serve.wait(timeout=10)

        # Sealing's cold-start cost: the first set of a fresh service, plaintext vs sealed.
        env["DYN53_KMS_KEY"] = client("kms").create_key()["KeyMetadata"]["Arn"]
        sealed_host = "sealed.bench.example.net"
        out = subprocess.run([binary, "host", "add", sealed_host, "--zone-id", zone.split("/")[-1],
                              "--allow-explicit-ip", "--allow-private-ip"], env=env, check=True,
                             capture_output=True, text=True).stdout
        lines = out.splitlines()
        sealed_secret = lines[lines.index(next(l for l in lines if l.startswith("Secret"))) + 1].strip()
        ip = "198.51.100.9"

        def first_set(name, secret):
            serve, port, _ = cold_start()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t0 = time.monotonic()
            _, got = post(conn, {"execution_mode": "get", "protocol": 2})
            nonce = got["nonce"]
            status, got = post(conn, {
                "execution_mode": "set", "protocol": 2, "ddns_hostname": name,
                "record_type": "A", "ip": ip, "ip_mode": "explicit", "nonce": nonce,
                "signature": sign(secret, name, "A", ip, "explicit", nonce)})
            ms = (time.monotonic() - t0) * 1000
            serve.terminate()
            serve.wait(timeout=10)
            if got.get("result") not in ("changed", "unchanged"):
                sys.exit(f"first set of {name} answered {status} {got}")
            return ms

        # Each record exists before timing, so every timed set is the same (unchanged) work.
        first_set(host, secret)
        first_set(sealed_host, sealed_secret)
        log(f"{COLD_STARTS} first sets after a start, plaintext and sealed (interleaved)")
        plain, sealed = [], []
        for _ in range(COLD_STARTS):
            plain.append(first_set(host, secret))
            sealed.append(first_set(sealed_host, sealed_secret))
        log("first set after a start, ms, sorted: plaintext "
            f"{[round(x, 1) for x in sorted(plain)]}, sealed {[round(x, 1) for x in sorted(sealed)]}")
        print(f"BENCH backend_cold_first_set_plain_ms {pct(plain, 50):.1f} ms")
        print(f"BENCH backend_cold_first_set_sealed_ms {pct(sealed, 50):.1f} ms")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
