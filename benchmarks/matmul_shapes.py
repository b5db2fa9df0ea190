"""bf16 matmul speed of SmolLM2's own shapes against the square matmul the throughput benchmark calls the peak.

    python benchmarks/matmul_shapes.py [--out benchmarks/results/matmul_shapes.json]

A LoRA step of batch 8 x ~80 tokens multiplies ~640 token rows by each weight. On a CPU with AMX how fast such a
matmul runs depends strongly on that row count: this script times every weight shape of a SmolLM2 block (forward
``x @ W.T`` and the input gradient ``dy @ W``) at 640, 1280 and 2560 rows, next to the 1024 x 1024 square matmul of
``fit.measure_matmul_peak`` (benchmarks/train_throughput.py's peak) and a 2048 square one. Each product is also timed
with its weight packed once into oneDNN's blocked layout (``torch.ops.mkldnn._reorder_linear_weight``, then
``_linear_pointwise``: what inductor does for frozen inference weights) instead of being reordered inside every call,
to see how much of a small product that reorder costs. Best of 20 runs after 3 warm-ups, the machine's default
threads; the CPU model and flags are recorded with the numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dose_response import cpu_facts, write_result  # noqa: E402  (same folder)

# (name, input features, output features) of each linear layer of a SmolLM2-135M block; hidden 576, MLP 1536,
# keys and values 192 (3 key/value heads of 64).
SHAPES = [("q_proj / o_proj", 576, 576), ("k_proj / v_proj", 576, 192), ("gate_proj / up_proj", 576, 1536),
          ("down_proj", 1536, 576)]
ROWS = (640, 1280, 2560)


def best_seconds(product, repeats: int = 20, warmups: int = 3) -> float:
    """The fastest of ``repeats`` calls of ``product()``, after ``warmups`` untimed ones."""
    for _ in range(warmups):
        product()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        best = min(best, time.perf_counter() - start)
    return best


def tflops(rows: int, inner: int, cols: int, transposed: bool) -> float:
    """Best TFLOP/s of a (rows x inner) @ (inner x cols) bf16 matmul; ``transposed``: the right operand is stored as
    (cols x inner) and multiplied as its transpose, as ``nn.Linear`` stores its weight."""
    import torch

    left = torch.randn(rows, inner).bfloat16()
    right = torch.randn(cols, inner).bfloat16().t() if transposed else torch.randn(inner, cols).bfloat16()
    return 2 * rows * inner * cols / best_seconds(lambda: left @ right) / 1e12


def packed_tflops(rows: int, inner: int, cols: int) -> float:
    """Best TFLOP/s of the same product with the right operand packed once, before the timing, into oneDNN's
    blocked layout for ``rows``-row inputs."""
    import torch

    left = torch.randn(rows, inner).bfloat16()
    weight = torch.randn(cols, inner).bfloat16()  # nn.Linear's (out x in) layout
    packed = torch.ops.mkldnn._reorder_linear_weight(weight, rows)
    seconds = best_seconds(lambda: torch.ops.mkldnn._linear_pointwise(left, packed, None, "none", [], ""))
    return 2 * rows * inner * cols / seconds / 1e12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/matmul_shapes.json")
    args = parser.parse_args()
    import torch

    rows_out = []
    for name, inputs, outputs in SHAPES:
        for rows in ROWS:
            forward = tflops(rows, inputs, outputs, transposed=True)  # x @ W.T
            backward = tflops(rows, outputs, inputs, transposed=False)  # dy @ W: the input's gradient
            packed = (packed_tflops(rows, inputs, outputs), packed_tflops(rows, outputs, inputs))
            rows_out.append({"layer": name, "rows": rows, "forward_tflops": round(forward, 2),
                             "input_gradient_tflops": round(backward, 2), "packed_forward_tflops": round(packed[0], 2),
                             "packed_input_gradient_tflops": round(packed[1], 2)})
            print(f"{name:20s} {rows:5d} rows: forward {forward:.2f} (packed {packed[0]:.2f}), input gradient "
                  f"{backward:.2f} (packed {packed[1]:.2f}) TFLOP/s")
    squares = {size: round(tflops(size, size, size, transposed=False), 2) for size in (1024, 2048)}
    print(f"square 1024: {squares[1024]:.2f} TFLOP/s (the throughput benchmark's peak), 2048: {squares[2048]:.2f}")
    write_result(args.out, {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_facts(), "threads": torch.get_num_threads(),
                            "rows": rows_out, "square_tflops": squares})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
