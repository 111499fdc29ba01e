"""POST one head (a safetensors file) to a headscope worker, then read the result and its vectors back.

    python3 examples/client.py http://127.0.0.1:8787 "$TOKEN" head.safetensors

Needs requests and numpy. Tested against a real local worker by test/openapi/client.test.ts.
"""
import json
import struct
import sys

import numpy as np
import requests

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I32": "<i4", "U16": "<u2"}


def read_safetensors(data: bytes) -> dict:
    """The tensors of a safetensors file as numpy arrays (no other dependency)."""
    n = struct.unpack("<Q", data[:8])[0]
    header, base = json.loads(data[8 : 8 + n]), 8 + n
    return {
        name: np.frombuffer(data[base + t["data_offsets"][0] : base + t["data_offsets"][1]], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
        for name, t in header.items()
        if name != "__metadata__"
    }


def post_and_read_head(base: str, token: str, model: str, layer: int, head: int, path: str):
    with open(path, "rb") as f:
        r = requests.post(
            f"{base}/v1/models/{model}/layers/{layer}/heads/{head}/qk",
            data=f.read(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
        )
    if not r.ok:  # every error is application/problem+json with a stable type
        problem = r.json()
        raise RuntimeError(f"{problem['type']}: {problem['detail']}")
    links = r.json()["links"]  # addressed by variant and input hash: never change, cacheable
    summary = requests.get(base + links["self"]).json()
    vectors = read_safetensors(requests.get(base + links["vectors"]).content)  # U, S, V
    return r.status_code, summary, vectors


if __name__ == "__main__":
    status, summary, v = post_and_read_head(sys.argv[1], sys.argv[2], "gpt2-small", 0, 1, sys.argv[3])
    print(json.dumps({"status": status, "variant": summary["variant"]["name"], "sigma": summary["singular_values"],
                      "U": list(v["U"].shape), "S": v["S"].tolist()}))
