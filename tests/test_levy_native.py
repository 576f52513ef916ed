"""The native CPU sampler (simulations.levy_native) against the torch path it replaces, bit for bit:
the uniforms against torch.rand (and the generator's state afterwards), the samples against
simulations.levy.sample_torch for every branch of the transform, both dtypes and sizes that cross
the kernel's blocks and the engine's 624-word twists; the edge inputs of the transform too."""
from __future__ import annotations

import ctypes
import math

import numpy as np
import pytest
import torch

from simulations import levy, levy_native
from simulations.levy import sample_torch, symmetric_stable

pytestmark = pytest.mark.skipif(levy_native.kernel() is None, reason=f"no native sampler: {levy_native.why_not()}")

# every branch: alpha < 1, = 1, > 1, 2 (Gaussian), the bracket form below 1e-300, float32 from float64
ALPHAS = (0.3, 0.7, 1.0, 1.5, 1.95, 2.0, 1e-301, 1e-20)
SIZES = (0, 1, 7, 623, 1025, 5000)


def _same(x: torch.Tensor, y: torch.Tensor) -> bool:
    return x.dtype == y.dtype and x.shape == y.shape and bool(((x == y) | (x.isnan() & y.isnan())).all())


def _generators(seed: int, burn: int):
    a, b = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    torch.rand(burn, generator=a)
    torch.rand(burn, generator=b)  # start both mid-state, not at a fresh twist
    return a, b


@pytest.mark.parametrize("n", (1, 311, 312, 624, 5000, 100_001))
def test_the_uniforms_are_torch_rand_and_the_state_ends_where_torch_leaves_it(n):
    ours, torchs = _generators(n, burn=n % 97)
    engine, raw = levy_native.read_state(ours)
    u = np.empty(n)
    levy_native.kernel().mt_uniform(ctypes.byref(engine), n, u.ctypes.data)
    levy_native.write_state(ours, engine, raw)
    assert np.array_equal(u, torch.rand(n, generator=torchs, dtype=torch.float64).numpy())
    assert torch.equal(ours.get_state(), torchs.get_state())


@pytest.fixture(params=(True, False), ids=("special", "general"))
def special_forms(request, monkeypatch):
    """levy._SPECIAL_FORMS on (the default) and off (the general form at alpha 1 and 3/2: the
    benchmark's before-issue-13 reference and the stream of the recorded runs)."""
    monkeypatch.setattr(levy, "_SPECIAL_FORMS", request.param)
    return request.param


@pytest.mark.parametrize("dtype", (torch.float64, torch.float32))
@pytest.mark.parametrize("alpha", ALPHAS)
def test_samples_are_the_torch_path_bit_for_bit(alpha, dtype):
    _check_samples_against_the_torch_path(alpha, dtype)


@pytest.mark.parametrize("dtype", (torch.float64, torch.float32))
@pytest.mark.parametrize("alpha", (1.0, 1.5))
def test_the_general_form_at_alpha_1_and_3_2_is_the_torch_path_bit_for_bit(alpha, dtype, monkeypatch):
    monkeypatch.setattr(levy, "_SPECIAL_FORMS", False)
    _check_samples_against_the_torch_path(alpha, dtype)


def _check_samples_against_the_torch_path(alpha, dtype):
    for n in SIZES:
        ours, torchs = _generators(int(alpha * 1000) + n, burn=11)
        x = symmetric_stable(alpha, n, generator=ours, dtype=dtype)
        y = sample_torch(alpha, (n,), generator=torchs, device="cpu", dtype=dtype)
        assert _same(x, y), (alpha, dtype, n, int((x != y).sum()))
        assert torch.equal(ours.get_state(), torchs.get_state())
        assert bool(torch.isfinite(x).all()) or alpha < 0.05  # inf only where the law overflows


def test_shape_scale_and_the_default_generator():
    torch.manual_seed(5)
    x = symmetric_stable(1.3, (4, 3, 2), scale=2.5)
    torch.manual_seed(5)
    y = sample_torch(1.3, (4, 3, 2), generator=None, device="cpu", dtype=torch.float32, scale=2.5)
    assert x.shape == (4, 3, 2) and _same(x, y)


@pytest.mark.parametrize("dtype", (torch.float64, torch.float32))
@pytest.mark.parametrize("alpha", (0.5, 1.0, 1.5, 1.95))
def test_the_transform_at_the_grid_edges(alpha, dtype, special_forms):
    """U = 0 (V = -pi/2), U within an ulp of 1/2 (V near 0) and of 1 (V near pi/2), U' = 0 and
    within an ulp of 1: the kernel's map equals the torch path's, and a sample is infinite only
    where the float64 sample exceeds the dtype's range (the law's, at alpha < 1 and these edges)."""
    edges = torch.tensor([0.0, 2.0**-53, 0.5 - 2.0**-53, 0.5, 0.5 + 2.0**-53, 1 - 2.0**-53, 0.25, 0.75],
                         dtype=torch.float64)
    u = edges.repeat_interleave(len(edges))
    uw = edges.repeat(len(edges))
    x = levy_native.transform(levy_native.kernel(), alpha, u, uw, dtype, half_pi=math.pi / 2, grid=2.0**-53,
                              tiny64=1e-300, special=special_forms)
    y = torch.empty(u.numel(), dtype=dtype)
    levy._run(alpha, u.clone(), uw.clone(), y, uniforms=True)
    assert _same(x, y) and not bool(x.isnan().any())
    x64 = levy_native.transform(levy_native.kernel(), alpha, u, uw, torch.float64, half_pi=math.pi / 2,
                                grid=2.0**-53, tiny64=1e-300, special=special_forms)
    assert torch.equal(~torch.isfinite(x), x64.abs() > torch.finfo(dtype).max)


def test_other_devices_and_dtypes_keep_the_torch_path(monkeypatch):
    monkeypatch.setattr(levy_native, "sample", lambda *a, **k: pytest.fail("native path taken"))
    x = symmetric_stable(1.5, 10, generator=torch.Generator().manual_seed(1), dtype=torch.bfloat16)
    assert x.dtype == torch.bfloat16 and bool(torch.isfinite(x).all())


def test_a_bad_shape_draws_nothing_and_the_default_device_is_not_used():
    gen = torch.Generator().manual_seed(0)
    before = gen.get_state().clone()
    with pytest.raises(ValueError, match="non-negative"):
        symmetric_stable(1.5, (-1, -2), generator=gen)
    assert torch.equal(before, gen.get_state())
    torch.set_default_device("meta")  # the kernel writes a CPU tensor whatever torch's default device
    try:
        x = symmetric_stable(1.5, (4,), generator=gen, device="cpu", dtype=torch.float64)
    finally:
        torch.set_default_device(None)
    assert x.device.type == "cpu" and bool(torch.isfinite(x).all())


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("alpha", (0.7, 1.0, 1.5, 1.95, 1e-20))
@pytest.mark.parametrize("shape", [(0, 4, 1), (1, 1, 1), (7, 5, 3), (1025, 3, 2), (333, 64, 1), (5, 1025, 1),
                                   (3, 2048, 1)])
def test_the_transposed_draw_is_the_draw_transposed_bit_for_bit(shape, alpha, dtype):
    """The escape simulator's noise block: written step-major by the kernel (whole paths per block
    where dim = 1, a scatter otherwise), the same bits and generator state as the draw and a copy."""
    ours, torchs = _generators(sum(shape) + int(alpha * 100), burn=5)
    n = math.prod(shape)
    buffer = torch.full((n + 3,), 7.0, dtype=dtype)
    x = levy.symmetric_stable_transposed(alpha, *shape, generator=ours, dtype=dtype, out=buffer[:n])
    y = sample_torch(alpha, shape, generator=torchs, device="cpu", dtype=dtype).transpose(0, 1).contiguous()
    assert x.shape == (shape[1], shape[0], shape[2]) and x.is_contiguous() and _same(x, y)
    assert (n == 0 or x.data_ptr() == buffer.data_ptr()) and bool((buffer[n:] == 7.0).all())  # in place only
    assert torch.equal(ours.get_state(), torchs.get_state())


def test_the_transposed_draw_without_the_kernel_and_a_bad_buffer(monkeypatch):
    ours, torchs = _generators(4, burn=0)
    expected = symmetric_stable(1.5, (9, 4, 2), generator=torchs).transpose(0, 1).contiguous()
    monkeypatch.setattr(levy, "_native_kernel", lambda *args: None)
    out = torch.empty(72)
    assert torch.equal(levy.symmetric_stable_transposed(1.5, 9, 4, 2, generator=ours, out=out), expected)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="contiguous CPU"):
        levy.symmetric_stable_transposed(1.5, 9, 4, 2, generator=ours, out=torch.empty(71))
    with pytest.raises(ValueError, match="non-negative"):
        levy.symmetric_stable_transposed(1.5, -1, 4, 2, generator=ours)


def test_fresh_outputs_are_advised_huge_pages_inside_themselves_only(monkeypatch):
    """levy_native.empty_output: numpy's huge-page policy (whole pages inside a buffer of 2 MiB or
    more, where numpy says 4; NUMPY_MADVISE_HUGEPAGE=0 turns it off), then the same pages faulted in
    at once, never a byte outside the tensor it returns."""
    calls = []
    monkeypatch.setattr(levy_native, "_madvise", lambda: lambda address, length, advice: calls.append(
        (address, length, advice)) or 0)
    small = levy_native.empty_output((1 << 18) - 1, torch.float64)  # 8 bytes short of 2 MiB
    assert small.numel() == (1 << 18) - 1 and calls == []
    for n, dtype in ((1 << 18, torch.float64), (1 << 19, torch.float64), (1_000_000, torch.float32)):
        calls.clear()
        x = levy_native.empty_output(n, dtype)
        (address, length, huge), (address_again, length_again, populate) = calls
        start, end = x.data_ptr(), x.data_ptr() + n * x.element_size()
        assert (huge, populate) == (14, 23) and (address_again, length_again) == (address, length)
        assert address % 4096 == 0 and length % 4096 == 0
        assert start <= address and address + length <= end and end - (address + length) < 2 * 4096
        assert x.dtype == dtype and x.numel() == n and x.device.type == "cpu"
    monkeypatch.undo()
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "0")
    levy_native._madvise.cache_clear()
    try:
        assert levy_native._madvise() is None
    finally:
        monkeypatch.undo()
        levy_native._madvise.cache_clear()
    x = symmetric_stable(1.5, 1 << 20, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = sample_torch(1.5, (1 << 20,), generator=torch.Generator().manual_seed(3), device="cpu", dtype=torch.float64)
    assert torch.equal(x, y)  # the advice changes no value
