"""The committed integer MaxSim kernels are what exporter/make_kernels.py writes."""

from exporter.make_kernels import OUT, kernels


def test_committed_kernels_are_up_to_date():
    for name, data in kernels().items():
        assert (OUT / name).read_bytes() == data, f"runtime/search/kernels/{name} is stale: run exporter/make_kernels.py"
