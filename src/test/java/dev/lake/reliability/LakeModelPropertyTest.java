package dev.lake.reliability;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.ModelCheck;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Model-based test of {@link dev.lake.linear.Lake}: random sequences of every operation of a lake, its views (split
 * recursively), marks, snapshots (including another allocator's), sandboxes (objects and primitive tokens, ended in
 * any order), droplets (including {@code process} with failing and re-entering writers, auto-rewind on close,
 * wrappers that rewind), {@code place} with failing, writing, scratch-allocating and rewinding wrappers, zeroing
 * switched on and off (checked byte by byte, rewinds included), reset, clear and close, each checked step by step
 * against the naive model in {@link LakeWorld} (the steps: {@code LakeWorld.menu(false)}; {@link EighthLakeFuzzTest}
 * drives the same model with the mixed menu). A failing sequence is shrunk ({@link ModelCheck}) and printed step
 * by step.
 *
 * <p>Broader than {@code LakeModelTest} (hand-rolled random walks): adds primitive allocations whose bytes are
 * checked, sandbox tokens, sandbox allocation, place/process failures, zeroing, clear, close, generation counters
 * and the stats record; and shrinks failures. Sequences per run: {@link ModelTries}.
 */
class LakeModelPropertyTest
{
    @Test
    void everyOperationSequenceMatchesTheModel()
    {
        final long baseline = NativeMemory.reservedBytes();
        final int tries = ModelTries.tries();
        final long steps = ModelCheck.run("Lake", tries, 60, LakeWorld::open, LakeWorld.menu(false));
        ModelTries.report("LakeModelPropertyTest", tries, steps);
        assertEquals(baseline, NativeMemory.reservedBytes(), "every native byte is back after close");
    }
}
