"""The [compute] table: a bad value is refused at load time, naming the key and the fix."""

from __future__ import annotations

import pytest

from chronoguard.config import ChronoguardConfig, dump_config, parse_config
from chronoguard.errors import ConfigError


def test_the_default_runs_in_local_processes_in_batches_of_fifty() -> None:
    c = ChronoguardConfig().compute
    assert (c.backend, c.workers, c.batch_size, c.address) == ("processes", 0, 50, None)


def test_dask_needs_an_address() -> None:
    with pytest.raises(ConfigError, match=r'compute: backend = "dask" needs address'):
        parse_config({"compute": {"backend": "dask"}})
    ok = parse_config({"compute": {"backend": "dask", "address": "tcp://10.0.0.5:8786"}})
    assert ok.compute.address == "tcp://10.0.0.5:8786"


def test_an_address_without_dask_is_refused() -> None:
    with pytest.raises(ConfigError, match=r'only read with backend = "dask"'):
        parse_config({"compute": {"address": "tcp://10.0.0.5:8786"}})


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"backend": "spark"}, "compute.backend"),
        ({"batch_size": 0}, "compute.batch_size"),
        ({"workers": -1}, "compute.workers"),
        ({"connect_timeout": 0}, "compute.connect_timeout"),
        ({"threads": 4}, "compute.threads"),
    ],
)
def test_bad_values_name_their_key(values: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_config({"compute": values})


def test_the_table_round_trips_through_toml() -> None:
    import tomllib

    cfg = parse_config({"compute": {"backend": "dask", "address": "tcp://h:8786", "workers": 3}})
    again = parse_config(tomllib.loads(dump_config(cfg)))
    assert again.compute == cfg.compute
