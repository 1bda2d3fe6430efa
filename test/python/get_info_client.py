"""Calls the engine's GetInfo from Python with grpcio, using stubs generated from proto/ at run time.

Usage: python get_info_client.py ADDRESS [TOKEN]   (ADDRESS: unix:/path/to/socket or 127.0.0.1:PORT)
Prints the response as JSON; with an engine that needs a token and none (or a wrong one) given, prints the
status code and message instead. This is the "gRPC from any language" check: nothing here is shared with the
TypeScript client except the .proto file.
"""

import json
import pathlib
import sys
import tempfile

import grpc
from grpc_tools import protoc
from google.protobuf import json_format

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"
PROTO_FILE = "nucleus/engine/v1/engine.proto"


def generate_stubs(out_dir: str) -> None:
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    status = protoc.main(
        ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", PROTO_FILE]
    )
    if status != 0:
        raise SystemExit(f"grpc_tools.protoc failed with status {status}")


def main() -> None:
    address = sys.argv[1]
    metadata = [("authorization", f"Bearer {sys.argv[2]}")] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as out_dir:
        generate_stubs(out_dir)
        sys.path.insert(0, out_dir)
        from nucleus.engine.v1 import engine_pb2, engine_pb2_grpc

        with grpc.insecure_channel(address) as channel:
            stub = engine_pb2_grpc.EngineStub(channel)
            try:
                response = stub.GetInfo(engine_pb2.GetInfoRequest(self_check=True), timeout=30, metadata=metadata)
                health = stub.Health(engine_pb2.HealthRequest(), timeout=10, metadata=metadata)
            except grpc.RpcError as error:
                print(json.dumps({"error": {"code": error.code().name, "details": error.details()}}))
                return
    result = {
        "info": json_format.MessageToDict(response, preserving_proto_field_name=True),
        "health": json_format.MessageToDict(health, preserving_proto_field_name=True),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
