"""``ember serve`` / ``python -m ember.serve``: TF Serving's command line.

    ember serve --model_name mnist --model_base_path /models/mnist --rest_api_port 8501
    ember serve --model_config_file models.config --enable_batching

Flags keep TF Serving's names; ``--port`` (gRPC) is accepted and ignored (Ember serves REST only).
"""

from __future__ import annotations

import argparse
import os
import sys

from .manager import ModelConfig, parse_batching_parameters, parse_model_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ember serve", description="Serve Ember artifacts and ONNX models over "
                                "TF Serving's REST API and the Open Inference Protocol (KServe V2).")
    p.add_argument("--model_name", default="default", help="name of the model (with --model_base_path)")
    p.add_argument("--model_base_path", help="folder with numeric version folders (1/model.ember, 2/model.onnx)")
    p.add_argument("--model_config_file", help="TF Serving model_config_list text file (several models)")
    p.add_argument("--rest_api_port", type=int, default=8501, help="HTTP port (default 8501)")
    p.add_argument("--rest_api_host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for all interfaces, e.g. in a container)")
    p.add_argument("--port", type=int, help="gRPC port: accepted for TF Serving compatibility, not served")
    p.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0,
                   help="how often the base paths are polled for new/removed versions (default 1)")
    p.add_argument("--enable_batching", action="store_true", help="merge concurrent requests into batches")
    p.add_argument("--batching_parameters_file", help="TF Serving batching parameters (max_batch_size { value: 32 })")
    p.add_argument("--max_batch_size", type=int, default=32, help="rows per batch (with --enable_batching)")
    p.add_argument("--batch_timeout_micros", type=int, default=1000,
                   help="how long a batch waits for more requests (with --enable_batching)")
    p.add_argument("--max_request_bytes", type=int, default=64 << 20, help="larger bodies get 413 (default 64 MiB)")
    p.add_argument("--onnx_threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    p.add_argument("--inline", action="store_true",
                   help="run models on the event loop (fastest for tiny models; blocks other requests meanwhile)")
    p.add_argument("--web_runtime_dir", help="onnxruntime-web dist folder for the demo page (default: node_modules)")
    return p


def configs_from(args) -> list:
    if args.model_config_file:
        with open(args.model_config_file, encoding="utf-8") as f:
            return parse_model_config(f.read(), args.model_config_file)
    if not args.model_base_path:
        raise SystemExit("ember serve: give --model_base_path (with --model_name) or --model_config_file")
    return [ModelConfig(args.model_name, os.path.abspath(args.model_base_path))]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:  # `ember serve ...`
        argv = argv[1:]
    elif argv and not argv[0].startswith("-"):
        print(f"ember: unknown command {argv[0]!r}; try `ember serve --help`", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    if args.web_runtime_dir:
        os.environ["EMBER_ORT_WEB_DIR"] = args.web_runtime_dir
    batching = {"max_batch_size": args.max_batch_size, "batch_timeout_micros": args.batch_timeout_micros}
    if args.batching_parameters_file:
        with open(args.batching_parameters_file, encoding="utf-8") as f:
            batching.update({k: v for k, v in parse_batching_parameters(f.read()).items() if k in batching})
    if args.port is not None:
        print("ember serve: --port (gRPC) is not served; the REST API is on --rest_api_port", flush=True)
    from .server import Server

    server = Server(configs_from(args), port=args.rest_api_port, host=args.rest_api_host,
                    enable_batching=args.enable_batching or bool(args.batching_parameters_file),
                    poll_seconds=args.file_system_poll_wait_seconds, max_request_bytes=args.max_request_bytes,
                    log=lambda m: print(m, flush=True), inline=args.inline, onnx_threads=args.onnx_threads,
                    **batching)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
