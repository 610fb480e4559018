"""Each private member of a library the package uses, checked where it is isolated: an upgrade that removes or
changes one fails here, naming it, instead of silently changing a run or a server."""

from __future__ import annotations

import asyncio
import inspect
import sys
from pathlib import Path

import pytest


def test_uvicorn_h11_protocol_members_the_policy_uses():
    """runtime/h11_policy.py overrides these methods and reads these attributes of uvicorn's H11Protocol."""
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    from memo_edge.runtime.h11_policy import H11Policy, policy_protocol

    for name, params in {
        "connection_made": ["self", "transport"],
        "connection_lost": ["self", "exc"],
        "handle_events": ["self"],
        "on_response_complete": ["self"],
        "send_400_response": ["self", "msg"],
    }.items():
        assert list(inspect.signature(getattr(H11Protocol, name)).parameters) == params, name

    class Transport(asyncio.Transport):
        def __init__(self):
            super().__init__()
            self.out, self.closed = b"", False

        def get_extra_info(self, name, default=None):
            return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

        def write(self, data):
            self.out += data

        def close(self):
            self.closed = True

        def is_closing(self):
            return self.closed

    async def run():
        config = uvicorn.Config(lambda *a: None, http=policy_protocol(5.0, 8, lambda m: b'{"m":"' + m.encode() + b'"}'))
        config.load()
        proto = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})
        assert isinstance(proto, H11Policy)
        transport = Transport()
        proto.connection_made(transport)
        # the attributes the policy reads
        assert proto in proto.connections and proto.loop is asyncio.get_running_loop()
        assert proto.transport is transport and proto.cycle is None and proto.conn is not None
        assert proto._header_timer is not None  # armed at connect
        proto.data_received(b"NOT HTTP AT ALL\r\n\r\n")  # uvicorn calls send_400_response: ours answers in JSON
        assert transport.closed and b"content-type: application/json" in transport.out.lower()
        assert transport.out.endswith(b'{"m":"Invalid HTTP request received."}')
        proto.connection_lost(None)
        assert proto._header_timer is None

    asyncio.run(run())


def test_torch_cpu_bf16_probe_exists_and_tells_the_truth():
    """training/accelerator.py's bf16_available asks torch.cpu._is_avx512_bf16_supported (no public query)."""
    torch = pytest.importorskip("torch")
    from memo_edge.training.accelerator import bf16_available

    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    assert callable(probe), "torch.cpu._is_avx512_bf16_supported is gone: find torch's new bf16 query"
    cpuinfo = Path("/proc/cpuinfo")
    if torch.cuda.is_available() or not cpuinfo.is_file() or sys.platform != "linux":
        pytest.skip("the cross-check reads Linux's /proc/cpuinfo on a machine without CUDA")
    flags = next((ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("flags")), "").split()
    assert bf16_available() == ("avx512_bf16" in flags)


def test_accelerate_state_reset_lets_a_second_accelerator_change_precision():
    """training/accelerator.py's make_accelerator forgets accelerate's process-wide precision with the private
    AcceleratorState._reset_state (a second train() in one process with another --bf16)."""
    pytest.importorskip("accelerate")
    from accelerate.state import AcceleratorState

    from memo_edge.training.accelerator import make_accelerator

    assert "reset_partial_state" in inspect.signature(AcceleratorState._reset_state).parameters
    assert isinstance(AcceleratorState._shared_state, dict)
    assert make_accelerator(True).mixed_precision == "bf16"
    assert make_accelerator(False).mixed_precision == "no"
    assert make_accelerator(True).mixed_precision == "bf16"
