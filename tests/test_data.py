"""ember.utils.data: samplers, datasets, collation (against torch.utils.data), and the DataLoader with
real worker processes (deaths, hangs, errors, determinism)."""
import collections
import contextlib
import os
import signal
import time

import numpy as np
import pytest

import ember
from ember.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackedSamples,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)

torch = pytest.importorskip("torch")
tud = pytest.importorskip("torch.utils.data")


@contextlib.contextmanager
def deadline(seconds):
    """Fail (instead of hanging CI) if the block takes longer than ``seconds``."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def as_np(x):
    """An ember or torch tensor (or anything array-like) as (NumPy array, dtype name)."""
    if isinstance(x, ember.Tensor):
        return x.numpy(), x.dtype.name
    if isinstance(x, torch.Tensor):
        return x.numpy(), str(x.dtype).replace("torch.", "")
    return np.asarray(x), None


def assert_same_structure(ours, theirs):
    """Our collated batch equals torch's: same containers, same values and dtypes in tensors."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, ember.Tensor), f"expected a tensor, got {type(ours).__name__}"
        a, da = as_np(ours)
        b, db = as_np(theirs)
        assert da == db and a.shape == b.shape, (da, db, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            assert_same_structure(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs), (type(ours), type(theirs))
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same_structure(a, b)
    else:
        assert ours == theirs


def batches_as_lists(loader):
    return [[as_np(t)[0].tolist() for t in batch] for batch in loader]


# ------------------------------------------------------------------------------------------ samplers


def test_sequential_and_batch_sampler_match_torch():
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)]:
        ours = BatchSampler(SequentialSampler(range(n)), bs, drop)
        theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


def test_random_sampler_is_a_seeded_permutation():
    data = range(50)
    a = list(RandomSampler(data, generator=ember.Generator().manual_seed(3)))
    b = list(RandomSampler(data, generator=ember.Generator().manual_seed(3)))
    c = list(RandomSampler(data, generator=ember.Generator().manual_seed(4)))
    assert sorted(a) == list(range(50)) and a == b and a != c
    sampler = RandomSampler(data, generator=ember.Generator().manual_seed(3))
    assert list(sampler) != list(sampler)  # a new order each pass
    ember.manual_seed(11)
    d = list(RandomSampler(data))
    ember.manual_seed(11)
    assert list(RandomSampler(data)) == d  # the global generator when none is given


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(4), num_samples=10)
    out = list(s)
    assert len(out) == len(s) == 10
    assert collections.Counter(out) == {i: 2 for i in range(4)} | {i: 3 for i in out[8:]}
    r = list(RandomSampler(range(3), replacement=True, num_samples=200))
    assert len(r) == 200 and set(r) == {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(range(3), replacement="yes")


def test_subset_random_sampler():
    idx = [3, 7, 11, 20]
    out = list(SubsetRandomSampler(idx, generator=ember.Generator().manual_seed(0)))
    assert sorted(out) == idx and len(SubsetRandomSampler(idx)) == 4


def test_weighted_random_sampler():
    g = ember.Generator().manual_seed(0)
    draws = list(WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=g))
    counts = collections.Counter(draws)
    assert 0 not in counts and 0.2 < counts[1] / 4000 < 0.3
    unique = list(WeightedRandomSampler(ember.tensor([1.0, 1.0, 1.0, 0.5]), 4, replacement=False))
    assert sorted(unique) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)


# ------------------------------------------------------------------------------------------ datasets


def test_tensor_dataset_items_and_vectorised_batches():
    x = ember.arange(12, dtype=ember.float32).reshape(6, 2)
    y = ember.tensor([0, 1, 0, 1, 1, 0])
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert xi.tolist() == [8.0, 9.0] and yi.item() == 1
    got = ds.__getitems__([5, 0, 2])
    assert isinstance(got, StackedSamples) and len(got) == 3
    assert got.columns[0].tolist() == [[10.0, 11.0], [0.0, 1.0], [4.0, 5.0]]
    assert got[1][0].tolist() == [0.0, 1.0]  # custom collate_fns still see single samples
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(ember.zeros(3), ember.zeros(4))


def test_tensor_dataset_accepts_numpy_arrays():
    ds = TensorDataset(np.arange(6).reshape(3, 2), np.array([1, 2, 3]))
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert batch[0].dtype == ember.int64 and batch[1].tolist() == [1, 2, 3]


def test_subset_concat_chain():
    sub = Subset(list("abcdef"), [5, 1, 3])
    assert [sub[i] for i in range(3)] == ["f", "b", "d"] and sub.__getitems__([2, 0]) == ["d", "f"]
    parts = [list(range(3)), list(range(10, 15)), [99]]
    ours, theirs = ConcatDataset(parts), tud.ConcatDataset(parts)
    assert len(ours) == len(theirs)
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    with pytest.raises(IndexError):
        ours[9]

    class Count(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    assert list(Count(2) + Count(3)) == [0, 1, 0, 1, 2]
    assert isinstance(Count(1) + Count(1), ChainDataset)


def test_random_split_sizes_match_torch():
    for n, lengths in [(10, [3, 7]), (10, [0.8, 0.2]), (11, [0.5, 0.3, 0.2]), (7, [1 / 3] * 3)]:
        ours = random_split(range(n), lengths, generator=ember.Generator().manual_seed(0))
        theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        flat = [i for s in ours for i in s]
        assert sorted(flat) == list(range(n))
    a = random_split(range(20), [10, 10], generator=ember.Generator().manual_seed(5))
    b = random_split(range(20), [10, 10], generator=ember.Generator().manual_seed(5))
    assert list(a[0]) == list(b[0])
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(range(10), [3, 3])


# ------------------------------------------------------------------------------------------ collation

Point = collections.namedtuple("Point", "x y")

COLLATE_CASES = {
    "float32 arrays": [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
    "uint8 arrays": [np.full((2,), 7, np.uint8), np.zeros((2,), np.uint8)],
    "python floats": [1.5, 2.0, -1.0],
    "python ints": [1, 2, 3],
    "bools": [True, False],
    "numpy int64 labels": [np.int64(3), np.int64(1)],
    "numpy float32 scalars": [np.float32(0.5), np.float32(1.5)],
    "0-d arrays": [np.array(1.5), np.array(2.5)],
    "strings": ["a", "bc"],
    "tuples": [(np.ones(2, np.float32), 1), (np.zeros(2, np.float32), 0)],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"img": np.ones(3), "label": 1, "name": "x"}, {"img": np.zeros(3), "label": 2, "name": "y"}],
    "namedtuples": [Point(1.0, np.int64(2)), Point(3.0, np.int64(4))],
    "nested": [{"a": (1, {"b": [np.float64(1.0)]})}, {"a": (2, {"b": [np.float64(2.0)]})}],
}


@pytest.mark.parametrize("name", list(COLLATE_CASES))
def test_default_collate_matches_torch(name):
    batch = COLLATE_CASES[name]
    assert_same_structure(default_collate(batch), tud.default_collate(batch))


def test_default_collate_tensors_and_convert():
    out = default_collate([ember.ones(2, 3), ember.zeros(2, 3)])
    assert tuple(out.shape) == (2, 2, 3) and out.dtype == ember.float32
    sample = {"x": np.arange(3), "s": "txt", "t": (np.float32(1.0), 2)}
    assert_same_structure(default_convert(sample), tud.default_convert(sample))


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match=r"same shape.*\(3,\) at entry 0 and \(4,\) at entry 1"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="cannot become tensors"):
        default_collate([np.array(["a"]), np.array(["b"])])


# ------------------------------------------------------------------------------------------ DataLoader


def make_tensor_dataset(n=23):
    return TensorDataset(ember.arange(n * 2, dtype=ember.float32).reshape(n, 2), ember.arange(n))


def test_loader_batches_drop_last_and_len():
    ds = make_tensor_dataset(10)
    loader = DataLoader(ds, batch_size=4)
    assert len(loader) == 3 and [len(b[1]) for b in loader] == [4, 4, 2]
    loader = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 10 and unbatched[3][1].item() == 3


def test_loader_uses_vectorised_getitems():
    class Counting(TensorDataset):
        calls = {"getitem": 0, "getitems": 0}

        def __getitem__(self, i):
            self.calls["getitem"] += 1
            return super().__getitem__(i)

        def __getitems__(self, idx):
            self.calls["getitems"] += 1
            return super().__getitems__(idx)

    ds = Counting(ember.zeros(100, 3), ember.arange(100))
    n = sum(1 for _ in DataLoader(ds, batch_size=10, shuffle=True))
    assert n == 10 and ds.calls == {"getitem": 0, "getitems": 10}


@pytest.mark.parametrize("persistent", [False, True])
def test_same_seed_same_batches_whatever_num_workers(persistent):
    ds = make_tensor_dataset(23)

    def epochs(num_workers, **kw):
        loader = DataLoader(ds, batch_size=5, shuffle=True, num_workers=num_workers,
                            generator=ember.Generator().manual_seed(7), **kw)
        return [batches_as_lists(loader) for _ in range(2)]

    with deadline(60):
        single = epochs(0)
        multi = epochs(2, persistent_workers=persistent, timeout=20)
    assert single == multi
    assert single[0] != single[1]  # a new order each epoch
    assert sorted(i for b in single[0] for i in b[1]) == list(range(23))


def test_workers_with_custom_collate_and_prefetch():
    ds = make_tensor_dataset(12)

    def collate(samples):
        return {"x": ember.stack([s[0] for s in samples]), "ids": [int(s[1]) for s in samples],
                "arr": np.ones(len(samples))}

    with deadline(30):
        out = list(DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate, prefetch_factor=1,
                              timeout=20))
    assert [b["ids"] for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert isinstance(out[1]["x"], ember.Tensor) and out[1]["x"].tolist()[0] == [8.0, 9.0]
    assert isinstance(out[0]["arr"], np.ndarray)  # collate_fn output is passed through as is


class WorkerIdentity(Dataset):
    """Each sample reports which worker produced it, with that worker's seed and RNG draws."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        wid = -1 if info is None else info.id
        return {"i": i, "worker": wid, "np": float(np.random.random()), "ember": ember.rand(1).item(),
                "init": int(os.environ.get("EMBER_TEST_INIT", "-1"))}


def set_init_marker(worker_id):
    os.environ["EMBER_TEST_INIT"] = str(100 + worker_id)


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    with deadline(30):
        batches = list(DataLoader(WorkerIdentity(), batch_size=2, num_workers=2,
                                  worker_init_fn=set_init_marker, timeout=20))
    workers = [b["worker"].tolist() for b in batches]
    assert workers == [[0, 0], [1, 1], [0, 0], [1, 1]]  # round-robin, in order
    assert [b["init"].tolist()[0] for b in batches] == [100, 101, 100, 101]
    draws = [b["np"].tolist()[0] for b in batches] + [b["ember"].tolist()[0] for b in batches]
    assert len(set(draws)) == len(draws)  # workers are seeded differently
    single = list(DataLoader(WorkerIdentity(), batch_size=2))
    assert single[0]["worker"].tolist() == [-1, -1]


class ShardedStream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


def test_iterable_dataset_with_workers():
    with deadline(30):
        got = [b.tolist() for b in DataLoader(ShardedStream(10), batch_size=2, num_workers=2, timeout=20)]
    assert sorted(i for b in got for i in b) == list(range(10))
    assert got[0] == [0, 2] and got[1] == [1, 3]
    dropped = DataLoader(ShardedStream(5), batch_size=2, drop_last=True)
    assert [b.tolist() for b in dropped] == [[0, 1], [2, 3]]
    with pytest.raises(TypeError, match="len"):  # the stream has no __len__, as in PyTorch
        len(DataLoader(ShardedStream(5), batch_size=None))
    assert list(DataLoader(ShardedStream(3), batch_size=None, num_workers=2, timeout=20)) == [0, 1, 2]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(ShardedStream(4), shuffle=True)


class Failing(Dataset):
    def __init__(self, mode):
        self.mode = mode

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            if self.mode == "raise":
                raise ValueError("bad sample 5")
            if self.mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.mode == "hang":
                time.sleep(60)
        return i


def test_worker_exception_is_reraised_with_traceback():
    with deadline(30), pytest.raises(ValueError, match=r"(?s)worker process \d.*bad sample 5"):
        list(DataLoader(Failing("raise"), batch_size=2, num_workers=2, timeout=20))


def test_killed_worker_is_named():
    with deadline(30), pytest.raises(RuntimeError, match=r"DataLoader worker \d \(pid \d+\) exited "
                                                         r"unexpectedly with exit code -9"):
        list(DataLoader(Failing("kill"), batch_size=2, num_workers=2))


def test_hung_worker_times_out_naming_it():
    start = time.monotonic()
    with deadline(30), pytest.raises(RuntimeError, match=r"timed out after 1 seconds .*worker 0 \(pid"):
        list(DataLoader(Failing("hang"), batch_size=2, num_workers=2, timeout=1))
    assert time.monotonic() - start < 10


def test_unpicklable_batch_is_an_error_not_a_hang():
    with deadline(30), pytest.raises(Exception, match="pickling its batch"):
        list(DataLoader(range(4), batch_size=2, num_workers=2, collate_fn=lambda b: (lambda: b), timeout=20))


def test_worker_init_error_is_reported():
    def bad_init(worker_id):
        raise KeyError("no such config")

    with deadline(30), pytest.raises(KeyError, match="(?s)during start-up.*no such config"):
        list(DataLoader(range(4), batch_size=2, num_workers=2, worker_init_fn=bad_init, timeout=20))


def test_spawn_start_method():
    ds = make_tensor_dataset(9)
    with deadline(60):
        got = batches_as_lists(DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="spawn",
                                          timeout=50))
    assert got == batches_as_lists(DataLoader(ds, batch_size=4))


def test_early_break_then_new_epoch_with_persistent_workers():
    ds = make_tensor_dataset(40)
    loader = DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True, timeout=20)
    with deadline(30):
        for i, _ in enumerate(loader):
            if i == 2:
                break
        full = [b[1].tolist() for b in loader]
    assert full == [[i, i + 1] for i in range(0, 40, 2)]


@pytest.mark.parametrize("kwargs, words", [
    (dict(sampler=SequentialSampler(range(4)), shuffle=True), "mutually exclusive with shuffle"),
    (dict(batch_sampler=BatchSampler(range(4), 2, False), batch_size=3), "batch_sampler option"),
    (dict(prefetch_factor=2), "prefetch_factor"),
    (dict(num_workers=-1), "num_workers"),
    (dict(timeout=-1), "timeout"),
    (dict(persistent_workers=True), "persistent_workers"),
    (dict(num_workers=1, multiprocessing_context="nope"), "start method"),
])
def test_loader_argument_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        DataLoader(range(4), **kwargs)
