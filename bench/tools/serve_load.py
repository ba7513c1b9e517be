#!/usr/bin/env python3
"""Load generator for `ilgpu-diffusion serve` (standard library only).

Starts the server command given with --server (adding --port), waits until GET /v1/models answers, sends --requests
completion requests from --clients concurrent clients, stops the server with SIGINT and reads the engine's statistics from
its last line. Prints requests/s, p50/p95 latency, completion tokens/s and the model passes saved against one request at a
time without the sampler's cache (requests x steps passes); one client alone shows the cache's share.
"""
import argparse
import json
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.load(response)


def wait_until_up(base, server, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server ended with exit code {server.returncode}:\n{server.stderr.read()}")
        try:
            with urllib.request.urlopen(base + "/v1/models", timeout=5) as response:
                return json.load(response)["data"][0]["id"]
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    sys.exit(f"the server did not answer within {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="the serve command line, without --port")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--prompt", default="The")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--steps", type=int, default=16, help="denoising steps of every request")
    args = parser.parse_args()

    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(shlex.split(args.server) + ["--port", str(args.port)], stderr=subprocess.PIPE, text=True)
    model = wait_until_up(base, server)
    body = {"model": model, "prompt": args.prompt, "max_tokens": args.max_tokens, "steps": args.steps}
    latencies, tokens, failures = [], [], []
    lock = threading.Lock()
    next_request = iter(range(args.requests))

    def client():
        while True:
            with lock:
                if next(next_request, None) is None:
                    return
            started = time.perf_counter()
            try:
                answer = post(base + "/v1/completions", body)
            except (urllib.error.URLError, ConnectionError) as e:
                with lock:
                    failures.append(str(e))
                continue
            with lock:
                latencies.append(time.perf_counter() - started)
                tokens.append(answer["usage"]["completion_tokens"])

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    server.send_signal(signal.SIGINT)
    _, log = server.communicate(timeout=120)
    stopped = re.search(r"Served (\d+) requests \((\d+) sequences\) in (\d+) batches: (\d+) model passes", log)

    latencies.sort()
    print(f"{len(latencies)} of {args.requests} requests answered ({len(failures)} failed) from {args.clients} clients "
          f"in {wall:.1f} s: {len(latencies) / wall:.2f} requests/s")
    print(f"latency p50 {statistics.median(latencies):.2f} s, p95 {latencies[int(0.95 * (len(latencies) - 1))]:.2f} s")
    print(f"{sum(tokens)} completion tokens: {sum(tokens) / wall:.1f} tokens/s")
    if stopped:
        requests, _, batches, passes = (int(group) for group in stopped.groups())
        alone = requests * args.steps
        print(f"{batches} batches, {passes} model passes; one request at a time, uncached: {alone}; saved: {alone - passes} "
              f"({100 * (alone - passes) / alone:.0f}%, by batching and the sampler's cache)")
    else:
        print(f"the server's statistics line is missing from its log:\n{log}")
    if failures:
        print("failures:", *sorted(set(failures)), sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()
