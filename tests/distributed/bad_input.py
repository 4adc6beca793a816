"""Run under 2 ranks: misuse gives clear errors naming the rank, the op and the shapes."""
import ember
import ember.distributed as dist
from ember import nn
from ember.nn.parallel import DistributedDataParallel as DDP


def expect(what, fn, *words):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        text = f"{type(exc).__name__}: {exc}"
        missing = [w for w in words if w not in text]
        print(f"{what}: {'OK' if not missing else 'MISSING ' + repr(missing)} | {text.splitlines()[0]}",
              flush=True)
        return
    print(f"{what}: NO ERROR", flush=True)


def before_init():
    expect("before_init", lambda: dist.all_reduce(ember.ones(2)), "all_reduce", "init_process_group")


def after_init():
    rank = dist.get_rank()
    expect("mismatched_shapes", lambda: dist.all_reduce(ember.ones(3 + rank, 2)), f"rank {rank}", "all_reduce",
           "(3, 2)", "(4, 2)")
    expect("init_twice", lambda: dist.init_process_group(), "twice")
    expect("object_not_json", lambda: dist.all_gather_object([None, None], {1, 2}), "JSON")
    unused_parameters(rank)


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 2), nn.Linear(4, 3)

    def forward(self, x):
        return self.a(x)  # self.b never takes part


def unused_parameters(rank):
    model = DDP(TwoHeads())
    model(ember.ones(2, 4)).sum().backward()
    expect("unused_parameters", lambda: model(ember.ones(2, 4)), f"rank {rank}", "all_reduce",
           "b.weight (3, 4)", "find_unused_parameters=True")
    fixed = DDP(TwoHeads(), find_unused_parameters=True)
    for _ in range(2):
        fixed(ember.ones(2, 4)).sum().backward()
    ok = fixed.module.b.weight.grad is None and fixed.module.a.weight.grad is not None
    print(f"find_unused_ok: {'OK' if ok else 'BAD'}", flush=True)
    dist.barrier()


if __name__ == "__main__":
    before_init()
    dist.init_process_group()
    after_init()
    dist.destroy_process_group()
