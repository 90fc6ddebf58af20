"""The generated protobuf code is up to date, and its descriptors say what the wire contract says.

Wire contract: /work/shared/spec/wire-contract.md, section 1.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor

from edgeport_lib.protocol import common_pb2, processor_pb2, processor_pb2_grpc, sipmessage_pb2

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "edgeport_lib" / "protocol"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_protos", ROOT / "scripts" / "generate_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("protocol")
    _load_generator().generate(out)
    return out


def _generated_names(directory: Path) -> set[str]:
    names = {p.name for p in directory.iterdir()}
    return {n for n in names if n.endswith(GENERATED_SUFFIXES) or n == "__init__.py"}


# -- generated code is not stale ---------------------------------------------------------------
def test_generator_writes_the_same_set_of_files(generated: Path) -> None:
    assert _generated_names(generated) == _generated_names(COMMITTED)
    assert {"common_pb2.py", "sipmessage_pb2.py", "processor_pb2.py", "processor_pb2_grpc.py"} <= (
        _generated_names(generated)
    )


@pytest.mark.parametrize(
    "name",
    [f"{stem}{suffix}" for stem in ("common", "sipmessage", "processor") for suffix in GENERATED_SUFFIXES]
    + ["__init__.py"],
)
def test_committed_file_equals_regenerated(generated: Path, name: str) -> None:
    fresh = (generated / name).read_text()
    committed = (COMMITTED / name).read_text()
    assert committed == fresh, (
        f"edgeport_lib/protocol/{name} is stale: run `python scripts/generate_protos.py` and commit"
    )


def test_generated_modules_use_package_relative_imports(generated: Path) -> None:
    text = (generated / "processor_pb2.py").read_text()
    assert "from . import common_pb2 as " in text
    assert "from . import sipmessage_pb2 as " in text
    assert "\nimport common_pb2" not in text and "\nimport sipmessage_pb2" not in text


# -- contract facts, read from the descriptors -------------------------------------------------
def test_packages_and_file_names() -> None:
    assert common_pb2.DESCRIPTOR.package == "fonoster.routr.common.v2beta1"
    assert sipmessage_pb2.DESCRIPTOR.package == "fonoster.routr.sipmessage.v2beta1"
    assert processor_pb2.DESCRIPTOR.package == "fonoster.routr.processor.v2beta1"
    assert common_pb2.DESCRIPTOR.name == "common.proto"
    assert sipmessage_pb2.DESCRIPTOR.name == "sipmessage.proto"
    assert processor_pb2.DESCRIPTOR.name == "processor.proto"
    # imported by bare file name, as Routr's protos do
    proto = descriptor_pb2.FileDescriptorProto()
    processor_pb2.DESCRIPTOR.CopyToProto(proto)
    assert sorted(proto.dependency) == ["common.proto", "sipmessage.proto"]
    for module in (common_pb2, sipmessage_pb2, processor_pb2):
        file_proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file_proto)
        assert file_proto.syntax == "proto3"


def test_service_and_full_method_path() -> None:
    service = processor_pb2.DESCRIPTOR.services_by_name["Processor"]
    assert service.full_name == "fonoster.routr.processor.v2beta1.Processor"
    assert [m.name for m in service.methods] == ["ProcessMessage"]
    method = service.methods_by_name["ProcessMessage"]
    assert method.input_type.full_name == "fonoster.routr.processor.v2beta1.MessageRequest"
    assert method.output_type.full_name == "fonoster.routr.processor.v2beta1.MessageResponse"
    assert not method.client_streaming and not method.server_streaming
    path = f"/{service.full_name}/{method.name}"
    assert path == "/fonoster.routr.processor.v2beta1.Processor/ProcessMessage"
    # the generated stub really calls that path
    assert path in (COMMITTED / "processor_pb2_grpc.py").read_text()
    assert hasattr(processor_pb2_grpc, "ProcessorStub")


@pytest.mark.parametrize(
    ("message", "field", "number", "type_name"),
    [
        (sipmessage_pb2.SIPMessage, "response_type", 1, "enum"),
        (sipmessage_pb2.SIPMessage, "request_uri", 2, "message"),
        (sipmessage_pb2.SIPMessage, "extensions", 12, "message"),
        (sipmessage_pb2.SIPMessage, "via", 13, "message"),
        (sipmessage_pb2.SIPMessage, "reason_phrase", 16, "string"),
        (sipmessage_pb2.SIPMessage, "body", 17, "string"),
        (sipmessage_pb2.Via, "port", 2, "int32"),
        (sipmessage_pb2.Via, "r_port_flag", 5, "bool"),
        (sipmessage_pb2.Via, "ttl", 9, "int32"),
        (sipmessage_pb2.SipURI, "ttl_param", 8, "int32"),
        (sipmessage_pb2.SipURI, "port", 9, "int32"),
        (sipmessage_pb2.SipURI, "secure", 12, "bool"),
        (sipmessage_pb2.Contact, "q_value", 3, "float"),
        (sipmessage_pb2.Authorization, "nonce_count", 12, "int32"),
        (sipmessage_pb2.WWWAuthenticate, "stale", 8, "bool"),
        (processor_pb2.MessageRequest, "message", 8, "message"),
        (processor_pb2.MessageRequest, "metadata", 9, "message"),
        (processor_pb2.MessageResponse, "metadata", 3, "message"),
        (processor_pb2.NetInterface, "transport", 3, "enum"),
    ],
)
def test_field_numbers(message, field: str, number: int, type_name: str) -> None:
    types = {
        "enum": FieldDescriptor.TYPE_ENUM,
        "message": FieldDescriptor.TYPE_MESSAGE,
        "string": FieldDescriptor.TYPE_STRING,
        "int32": FieldDescriptor.TYPE_INT32,
        "bool": FieldDescriptor.TYPE_BOOL,
        "float": FieldDescriptor.TYPE_FLOAT,
    }
    descriptor = message.DESCRIPTOR.fields_by_name[field]
    assert descriptor.number == number
    assert descriptor.type == types[type_name]


def test_request_uri_and_response_type_share_the_oneof() -> None:
    oneof = sipmessage_pb2.SIPMessage.DESCRIPTOR.oneofs_by_name["message_type"]
    assert [f.name for f in oneof.fields] == ["response_type", "request_uri"]


def test_metadata_is_a_string_map() -> None:
    entry = processor_pb2.MessageRequest.DESCRIPTOR.fields_by_name["metadata"].message_type
    assert entry.GetOptions().map_entry
    assert [f.name for f in entry.fields] == ["key", "value"]
    request = processor_pb2.MessageRequest()
    request.metadata["k"] = "v"
    assert dict(request.metadata) == {"k": "v"}


def test_enum_values() -> None:
    assert sipmessage_pb2.ResponseType.Value("SESSION_NOT_ACCEPTABLE") == 57
    assert sipmessage_pb2.ResponseType.Value("UNKNOWN") == 0
    assert sipmessage_pb2.ResponseType.Value("OK") == 7
    assert sipmessage_pb2.ResponseType.Value("UNAUTHORIZED") == 17
    assert len(sipmessage_pb2.ResponseType.keys()) == 58
    assert processor_pb2.Method.Value("UPDATE") == 14
    assert processor_pb2.Method.Value("REGISTER") == 1
    assert processor_pb2.Method.Value("ACK") == 7
    assert len(processor_pb2.Method.keys()) == 15
    assert common_pb2.Transport.Value("WSS") == 5
    assert common_pb2.Transport.Value("UDP") == 0
    assert common_pb2.Transport.keys() == ["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"]
    assert processor_pb2.NetInterface.DESCRIPTOR.fields_by_name["transport"].enum_type.full_name == (
        "fonoster.routr.common.v2beta1.Transport"
    )
