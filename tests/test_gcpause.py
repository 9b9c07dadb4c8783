"""reconciler.kernel.gcpause.ReadHeap: during a long read, what was read is frozen out of the
collector's reach at most every ``every_s`` seconds, the collector stays on (the HTTP clients'
reference cycles are still freed), and everything is unfrozen at the end."""

from __future__ import annotations

import gc
import weakref

from reconciler.kernel.gcpause import ReadHeap, paused_gc


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_read_heap_freezes_at_most_every_interval_and_unfreezes_at_the_end() -> None:
    now = [100.0]
    gc.unfreeze()
    with ReadHeap(every_s=2.0, clock=lambda: now[0]) as heap:
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # what was alive at the start is frozen
        kept = [[i] for i in range(1000)]  # "listings read"

        def tracked() -> bool:  # gc.get_objects() lists the generations, not the frozen
            ids = {id(o) for o in gc.get_objects()}
            return id(kept) in ids and id(kept[-1]) in ids

        heap.tick()  # less than 2 s later: nothing more frozen
        assert tracked()
        now[0] += 2.5
        heap.tick()
        assert not tracked()
        # a reference cycle made (and dropped) after the last freeze is still collected
        c = _Cycle()
        ref = weakref.ref(c)
        del c
        gc.collect()
        assert ref() is None
    assert gc.get_freeze_count() == 0


def test_paused_gc_freezes_what_a_batch_command_built_and_only_then() -> None:
    """In a batch command (keep_frozen) what a paused block built is frozen at its end (the
    next allocation would otherwise have scanned it all at once); elsewhere (a long-running
    worker, the tests) it goes back to the collector as before, and its garbage is collected."""
    from reconciler.kernel import gcpause

    gc.unfreeze()
    gc.collect()
    gcpause.keep_frozen()
    try:
        with paused_gc():
            made = [[i] for i in range(50_000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(made)
    finally:
        gcpause.stop_keeping_frozen()
        gc.unfreeze()
    with paused_gc():
        again = [[i] for i in range(50_000)]
        cycle = _Cycle()
        ref = weakref.ref(cycle)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    del cycle, again, made
    gc.collect()
    assert ref() is None


def test_a_batch_command_keeps_what_it_froze_and_hands_the_flag_back() -> None:
    """keep_frozen(): the contexts' objects stay frozen at their end (no full collection of
    the plan's data before the command exits); the CLI sets it for a batch command and clears
    it when the command ends, so an in-process caller (tests) is not left freezing."""
    from click.testing import CliRunner

    from reconciler.cli import main
    from reconciler.kernel import gcpause

    gc.unfreeze()
    gcpause.keep_frozen()
    try:
        with ReadHeap():
            made = [[i] for i in range(1_000)]
        assert gc.get_freeze_count() >= len(made)
    finally:
        gcpause.stop_keeping_frozen()
        gc.unfreeze()
    with ReadHeap():
        pass
    assert gc.get_freeze_count() == 0
    result = CliRunner().invoke(main, ["schema", "rates"])
    assert result.exit_code == 0, result.output
    assert not gcpause._keep_frozen
    gc.unfreeze()
