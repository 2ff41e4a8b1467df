"""Cross-check of NCCL reduce-scatter speed with PyTorch (reference tooling, not part of the product):
what NCCL reaches alone on this machine for bucket-sized fp32 reduce-scatters, to compare with the
waits MCPP_PROFILE shows under training. Run: torchrun --nproc_per_node=N scripts/nccl-reduce-scatter-bandwidth.py
"""
import os, time, torch, torch.distributed as dist
dist.init_process_group("nccl")
r = dist.get_rank(); n = dist.get_world_size()
torch.cuda.set_device(r)
for numel in (40_000_000, 65_536_000):
    x = torch.randn(numel, device="cuda"); out = torch.empty(numel // n, device="cuda")
    for _ in range(3): dist.reduce_scatter_tensor(out, x)
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(10): dist.reduce_scatter_tensor(out, x)
    torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 10
    if r == 0: print(f"n={n} reduce_scatter fp32 {numel*4/1e6:.0f} MB: {dt*1e3:.3f} ms, busbw {numel*4*(n-1)/n/dt/1e9:.0f} GB/s", flush=True)
dist.destroy_process_group()
