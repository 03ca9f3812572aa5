"""Batch tests: input forms (arrays, wide and long frames), result shape, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chronoguard.drift import (
    DriftInputError,
    DriftKind,
    ReferenceProfile,
    _core,
    anderson_darling_test,
    chi2_test,
    cramer_von_mises_test,
    detect_drift,
    ks_test,
    wasserstein_test,
)
from chronoguard.errors import ChronoguardError


def _long(rng: np.random.Generator, lengths: dict[str, int], shift: float = 0.0) -> pd.DataFrame:
    parts = []
    for uid, n in lengths.items():
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": pd.date_range("2024-01-01", periods=n, freq="D"),
                    "y": rng.normal(size=n) + shift,
                    "price": rng.gamma(2.0, size=n),
                    "promo": rng.choice(["yes", "no"], size=n),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_result_fields_and_names() -> None:
    rng = np.random.default_rng(0)
    res = ks_test(rng.normal(size=(300, 2)), rng.normal(size=(80, 2)), features=["a", "b"])
    assert [r.feature for r in res] == ["a", "b"]
    r = res[0]
    assert r.method == "ks" and r.threshold == 0.05 and r.threshold_on == "p_value"
    assert r.unique_id is None and r.kind is DriftKind.DATA
    assert r.details["n_reference"] == 300 and r.details["n_current"] == 80
    assert r.to_dict()["kind"] == "data_drift"
    assert ks_test(np.zeros(5), np.zeros(3))[0].feature == "y"


def test_long_frame_per_series_and_feature_with_unequal_lengths() -> None:
    rng = np.random.default_rng(1)
    ref = _long(rng, {"s1": 400, "s2": 250, "s3": 400})
    cur = _long(rng, {"s1": 60, "s3": 60, "s2": 45}, shift=0.0)
    cur.loc[cur.unique_id == "s3", "y"] += 3.0
    res = ks_test(ref, cur, features=["y", "price"])
    got = {(r.unique_id, r.feature): r for r in res}
    assert set(got) == {(s, f) for s in ("s1", "s2", "s3") for f in ("y", "price")}
    assert got[("s3", "y")].drift and not got[("s1", "y")].drift
    for (uid, feat), r in got.items():
        a = ref.loc[ref.unique_id == uid, feat].to_numpy()
        b = cur.loc[cur.unique_id == uid, feat].to_numpy()
        assert abs(r.statistic - stats.ks_2samp(a, b).statistic) <= 1e-12
    # A profile of the long frame gives the same results.
    profile = ReferenceProfile.build(ref, features=["y", "price"])
    again = ks_test(profile, cur, features=["y", "price"])
    assert [(r.unique_id, r.feature, r.statistic) for r in again] == [
        (r.unique_id, r.feature, r.statistic) for r in res
    ]


def test_series_missing_from_current_are_skipped_not_failed() -> None:
    rng = np.random.default_rng(2)
    ref = _long(rng, {"a": 100, "b": 100})
    cur = _long(rng, {"a": 30})
    res = wasserstein_test(ref, cur, features=["y"])
    assert [(r.unique_id, r.feature) for r in res] == [("a", "y")]


def test_detect_drift_mixes_numeric_and_categorical() -> None:
    rng = np.random.default_rng(3)
    ref = _long(rng, {"a": 300})
    cur = _long(rng, {"a": 100})
    cur["promo"] = "yes"
    res = detect_drift(ref, cur, methods=["ks", "wasserstein", "psi"])
    methods = [(r.method, r.feature) for r in res]
    assert ("ks", "y") in methods and ("wasserstein_normed", "price") in methods
    promo = next(r for r in res if r.method == "chi2")
    assert promo.feature == "promo" and promo.drift


def test_raw_wasserstein_threshold_is_in_reference_units() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(scale=5.0, size=(500, 1))
    r = wasserstein_test(ref, rng.normal(scale=5.0, size=(100, 1)), normed=False)[0]
    assert r.threshold == pytest.approx(0.1 * np.std(ref))
    assert wasserstein_test(ref, ref[:10], normed=False, threshold=2.0)[0].threshold == 2.0


def test_anderson_darling_constant_column_is_not_drift() -> None:
    r = anderson_darling_test(np.ones(50), np.ones(20))[0]
    assert np.isnan(r.statistic) and r.p_value == 1.0 and not r.drift


def test_ks_falls_back_to_public_scipy_without_private_routine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(size=(200, 2)), rng.normal(size=(70, 2)) + 0.3
    expected = ks_test(ref, cur)
    monkeypatch.setattr(_core, "_scipy_exact_ks", None)
    got = ks_test(ref, cur)
    for a, b in zip(got, expected, strict=True):
        assert a.statistic == pytest.approx(b.statistic, abs=1e-12)
        assert a.p_value == pytest.approx(b.p_value, abs=1e-12)


# ----------------------------------------------------------------------------- errors


def test_errors_are_chronoguard_errors() -> None:
    assert issubclass(DriftInputError, ChronoguardError)


def test_nan_in_current_names_the_column_and_the_fix() -> None:
    cur = np.ones((10, 3))
    cur[4, 2] = np.nan
    with pytest.raises(DriftInputError, match=r"NaN or infinite.*x2.*drop or impute"):
        ks_test(np.ones((10, 3)), cur)


def test_inf_in_reference_frame_is_rejected() -> None:
    ref = pd.DataFrame({"a": [1.0, np.inf, 2.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(DriftInputError, match=r"reference has NaN or infinite.*\ba\b"):
        ks_test(ref, ref.fillna(0))


def test_empty_samples_are_rejected() -> None:
    with pytest.raises(DriftInputError, match=r"current is empty.*non-empty"):
        ks_test(np.ones(5), np.array([]))
    with pytest.raises(DriftInputError, match="reference is empty"):
        wasserstein_test(np.ones((0, 2)), np.ones((4, 2)))


def test_mismatched_column_counts_name_the_missing_columns() -> None:
    with pytest.raises(DriftInputError, match=r"lacks \['x2'\].*same columns"):
        ks_test(np.ones((10, 3)), np.ones((10, 2)))
    with pytest.raises(DriftInputError, match=r"no numeric column x3"):
        ks_test(np.ones((10, 3)), np.ones((10, 4)))


def test_wrong_feature_names_and_shapes() -> None:
    with pytest.raises(DriftInputError, match="2 feature name"):
        ks_test(np.ones((10, 3)), np.ones((10, 3)), features=["a", "b"])
    with pytest.raises(DriftInputError, match="1-D or 2-D"):
        ks_test(np.ones((2, 2, 2)), np.ones((2, 2)))
    with pytest.raises(DriftInputError, match=r"no column\(s\) \['zzz'\]"):
        ks_test(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"a": [1.0]}), features=["zzz"])


def test_rank_tests_need_two_points() -> None:
    with pytest.raises(DriftInputError, match="at least 2 points"):
        cramer_von_mises_test(np.ones(5), np.ones(1))
    with pytest.raises(DriftInputError, match="at least 2 points"):
        anderson_darling_test(np.ones(1), np.arange(5.0))


def test_categorical_errors() -> None:
    with pytest.raises(DriftInputError, match="no categorical column"):
        chi2_test(np.array(["a", "b"]), np.ones(3))
    with pytest.raises(DriftInputError, match="missing values in categorical column promo"):
        chi2_test(pd.DataFrame({"promo": ["a", "b"]}), pd.DataFrame({"promo": ["a", None]}))


def test_unknown_method() -> None:
    with pytest.raises(DriftInputError, match="unknown drift method"):
        detect_drift(np.ones(5), np.ones(5), methods=["kolmogorov"])


def test_pandas_nullable_missing_values_are_reported() -> None:
    ref = pd.DataFrame({"a": pd.array([1.0, 2.0, 3.0], dtype="Float64")})
    cur = pd.DataFrame({"a": pd.array([1.0, None, 3.0], dtype="Float64")})
    assert ks_test(ref, ref)[0].statistic == 0.0
    with pytest.raises(DriftInputError, match=r"current has NaN or infinite.*\ba\b"):
        ks_test(ref, cur)
