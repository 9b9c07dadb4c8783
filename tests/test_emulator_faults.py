"""Emulator fault injection: spec parsing and its errors, determinism under a seed, each fault
kind's effect through the httpx transport (429/500/503 bodies, reset -> ReadError, timeout ->
ReadTimeout, expire -> 403, slow -> injected sleep), faults skip LWA, the call log records them."""

from __future__ import annotations

import random

import httpx
import pytest

from reconciler.emulator import auth
from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import FaultSpec, FaultSpecError
from reconciler.emulator.state import EmulatorConfig

SELLER = "A1PP0FEH11RW77"
US = "ATVPDKIKX0DER"
PATH = f"/listings/2021-08-01/items/{SELLER}/S1"


def test_parse_full_spec() -> None:
    s = FaultSpec.parse(
        "429=0.1,500=0.01,503=0.02,reset=0.03,timeout=0.005,expire=0.001,slow=0.04:1500"
    )
    assert (
        s.rate_429,
        s.rate_500,
        s.rate_503,
        s.reset,
        s.timeout,
        s.expire,
        s.slow,
        s.slow_ms,
    ) == (0.1, 0.01, 0.02, 0.03, 0.005, 0.001, 0.04, 1500.0)
    assert FaultSpec.parse("") == FaultSpec() and not FaultSpec().any
    assert FaultSpec.parse("slow=0.5").slow_ms == 2000.0


@pytest.mark.parametrize(
    "spec", ["429", "418=0.1", "500=2", "500=x", "slow=0.1:fast", "reset=-0.1"]
)
def test_bad_specs(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        FaultSpec.parse(spec)


def test_draws_are_deterministic_and_roughly_at_rate() -> None:
    s = FaultSpec.parse("429=0.2,500=0.1")
    a = [s.draw(random.Random(7)) for _ in range(1)]
    b = [s.draw(random.Random(7)) for _ in range(1)]
    assert a == b
    rng = random.Random(1)
    draws = [s.draw(rng) for _ in range(5000)]
    assert 0.17 < draws.count("429") / 5000 < 0.23
    assert 0.08 < draws.count("500") / 5000 < 0.12
    assert draws.count(None) + draws.count("429") + draws.count("500") == 5000


def run(spec: str, n: int = 1, seed: int = 0) -> tuple[Emulator, list[object], list[float]]:
    slept: list[float] = []
    e = Emulator(
        config=EmulatorConfig(faults=FaultSpec.parse(spec), quotas=False, seed=seed),
        sleep=slept.append,
    )
    e.put_listing_direct(SELLER, "S1", US, "MUG", {})
    out: list[object] = []
    with httpx.Client(
        transport=e.transport(),
        base_url="https://x",
        headers={"x-amz-access-token": auth.issue_token(e, SELLER)},
    ) as c:
        for _ in range(n):
            try:
                out.append(c.get(PATH, params={"marketplaceIds": US}))
            except httpx.TransportError as ex:
                out.append(ex)
    return e, out, slept


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("429", 429, "QuotaExceeded"),
        ("500", 500, "InternalFailure"),
        ("503", 503, "ServiceUnavailable"),
    ],
)
def test_error_faults(kind: str, status: int, code: str) -> None:
    e, out, _ = run(f"{kind}=1")
    with e:
        r = out[0]
        assert isinstance(r, httpx.Response) and r.status_code == status
        assert r.json()["errors"][0]["code"] == code
        assert "x-amzn-RequestId" in r.headers
        assert "x-amzn-RateLimit-Limit" not in r.headers
        assert [c.fault for c in e.calls("getListingsItem")] == [kind]


def test_reset_and_timeout_raise_transport_errors() -> None:
    e, out, _ = run("reset=1")
    with e:
        assert isinstance(out[0], httpx.ReadError)
        assert e.calls("getListingsItem")[0].status == 0
    e, out, _ = run("timeout=1")
    with e:
        assert isinstance(out[0], httpx.ReadTimeout)
        assert e.calls("getListingsItem")[0].fault == "timeout"


def test_expire_fault_expires_the_token() -> None:
    e, out, _ = run("expire=1", n=1)
    with e:
        r = out[0]
        assert isinstance(r, httpx.Response) and r.status_code == 403
        assert r.json()["errors"][0]["details"] == auth.EXPIRED_DETAILS


def test_slow_fault_sleeps_scaled() -> None:
    e, out, slept = run("slow=1:1500")
    with e:
        assert isinstance(out[0], httpx.Response) and out[0].status_code == 200
        assert slept == [1.5]


def test_faults_are_deterministic_for_a_seed() -> None:
    def statuses(seed: int) -> list[object]:
        e, out, _ = run("429=0.3,500=0.2", n=40, seed=seed)
        e.close()
        return [getattr(r, "status_code", type(r).__name__) for r in out]

    assert statuses(3) == statuses(3)
    assert statuses(3) != statuses(4)


def test_lwa_is_not_faulted() -> None:
    with (
        Emulator(config=EmulatorConfig(faults=FaultSpec.parse("500=1"))) as e,
        httpx.Client(transport=e.transport()) as c,
    ):
        auth.register_refresh_token(e, "x", seller_id="A1PP0FEH11RW77")
        r = c.post(
            "https://api.amazon.com/auth/o2/token",
            data={"grant_type": "refresh_token", "refresh_token": "x"},
        )
        assert r.status_code == 200


def test_latency_is_slept_scaled() -> None:
    slept: list[float] = []
    with Emulator(config=EmulatorConfig(latency_ms=200, time_scale=4), sleep=slept.append) as e:
        with httpx.Client(transport=e.transport()) as c:
            c.get("https://x/nowhere")
        assert slept == [0.05]


def test_a_failing_tick_is_a_logged_500_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator() as e, httpx.Client(transport=e.transport()) as c:

        def boom(emu: Emulator) -> None:
            raise RuntimeError("tick bug")

        monkeypatch.setattr(e, "_ticks", [boom])
        r = c.get("https://x/nowhere")
        assert r.status_code == 500
        assert r.json()["errors"][0]["code"] == "InternalFailure"
        assert "tick bug" in (e.calls()[0].error or "")


def test_a_failing_handler_is_a_logged_500(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.emulator import listing_api

    def boom(*args: object, **kw: object) -> None:
        raise RuntimeError("handler bug")

    monkeypatch.setattr(listing_api, "render_item", boom)
    e, out, _ = run("")
    with e:
        r = out[0]
        assert isinstance(r, httpx.Response) and r.status_code == 500
        assert "handler bug" in (e.calls("getListingsItem")[0].error or "")
