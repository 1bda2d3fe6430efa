"""Asks the engine for errors whose full text would be tens or hundreds of KB, from Python with grpcio.

Usage: python error_messages_client.py ADDRESS TOKEN MISSING_KEYS_MODEL BAD_CONFIG_MODEL
grpcio refuses status metadata over its limits ("RESOURCE_EXHAUSTED: Stream removed" instead of the engine's
answer), so each error must arrive as the engine's own status with a short message. Prints one JSON object per
request: the status name, the message's size in bytes and its start.
"""

import json
import pathlib
import sys
import tempfile

import grpc
from grpc_tools import protoc

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"


def stubs(out_dir):
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", "nucleus/engine/v1/engine.proto"]
    if protoc.main(args) != 0:
        raise SystemExit("grpc_tools.protoc failed")
    sys.path.insert(0, out_dir)
    from nucleus.engine.v1 import engine_pb2, engine_pb2_grpc

    return engine_pb2, engine_pb2_grpc


def outcome(name, call):
    try:
        call()
        return {"name": name, "code": "OK", "bytes": 0, "start": ""}
    except grpc.RpcError as error:
        details = error.details() or ""
        return {"name": name, "code": error.code().name, "bytes": len(details.encode()), "start": details[:160]}


def main():
    address, token, missing_keys_model, bad_config_model = sys.argv[1:5]
    metadata = [("authorization", f"Bearer {token}")]
    with tempfile.TemporaryDirectory() as out_dir:
        pb, pb_grpc = stubs(out_dir)
        with grpc.insecure_channel(address) as channel:
            engine = pb_grpc.EngineStub(channel)

            def load(folder):
                for _ in engine.LoadModel(pb.LoadModelRequest(model_dir=folder), metadata=metadata, timeout=60):
                    pass

            def huge_shape():
                embedding = pb.Tensor(dtype=pb.DTYPE_FLOAT32, shape=[1] * 40000, data=b"\0\0\0\0")
                engine.ImportEmbedding(pb.ImportEmbeddingRequest(embedding=embedding), metadata=metadata, timeout=30)

            results = [
                outcome("missing keys", lambda: load(missing_keys_model)),
                outcome("bad config", lambda: load(bad_config_model)),
                outcome("huge shape", huge_shape),
                outcome("health", lambda: engine.Health(pb.HealthRequest(), metadata=metadata, timeout=10)),
            ]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
