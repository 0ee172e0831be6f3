package dev.lake.reliability;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.ModelCheck;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Differential fuzz of the lake's features mixed together (eighth review), over the one lake model in
 * {@link LakeWorld} with its mixed menu ({@code LakeWorld.menu(true)}): views split recursively, sandboxes (objects
 * and tokens) in any view, snapshots taken in one scope and used in another, marks, droplets (closed for their
 * auto-rewind, wrapped by flyweight wrappers that rewind, rewritten), {@code process} with writers that fail in
 * every documented way or re-enter the allocator as allowed (a snapshot, a mark), {@code place} with wrappers that
 * fail after writing, or allocate scratch memory, or rewind above the placement, zeroing switched on and off per
 * allocator, reset, clear and close; the zeroing promises checked byte by byte after every step (see
 * {@link LakeWorld}).
 *
 * <p>On top of {@link LakeModelPropertyTest} (same model, smaller mix): lakes of 8 KiB built zeroing and lakes built
 * without it, larger sizes and alignments, more allocators, longer sequences, and a fixed seed.
 *
 * <p>Deterministic in CI: a fixed seed. {@code -Dlake.fuzz8.seed=S} replays seed {@code S}, {@code -Dlake.fuzz8.seed=random}
 * draws one (printed on failure), {@code -Dlake.fuzz8.tries=N} sets the number of sequences.
 */
class EighthLakeFuzzTest
{
    private static final long FIXED_SEED = 0x8E1A_4B1D_2026_1206L;

    @Test
    void mixedFeaturesMatchTheModel()
    {
        final long baseline = NativeMemory.reservedBytes();
        final String property = System.getProperty("lake.fuzz8.seed");
        final long seed = property == null ? FIXED_SEED :
            "random".equals(property) ? new SplittableRandom().nextLong() : Long.parseLong(property);
        final int tries = Integer.getInteger("lake.fuzz8.tries", 1000);
        final String previous = System.getProperty("lake.model.seed");
        System.setProperty("lake.model.seed", Long.toString(seed));
        try
        {
            // lakes built zeroing, then lakes built without it (switched on later by the steps)
            for (final boolean zeroing : new boolean[] {true, false})
            {
                final long steps = ModelCheck.run("Lake (eighth fuzz, built zeroing " + zeroing + ")", tries, 80,
                    () -> LakeWorld.open(LakeWorld.MIXED_CAPACITY, zeroing), LakeWorld.menu(true));
                ModelTries.report("EighthLakeFuzzTest (seed " + seed + ", built zeroing " + zeroing + ")", tries, steps);
            }
        }
        finally
        {
            if (previous == null)
            {
                System.clearProperty("lake.model.seed");
            }
            else
            {
                System.setProperty("lake.model.seed", previous);
            }
            LakeWorld.closeAll();
        }
        assertEquals(baseline, NativeMemory.reservedBytes(), "every native byte is back after close");
    }
}
