package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import dev.lake.testing.NativeAccounting;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every test of a subclass must give back all the native memory it reserved. Exactly, unless the safety net freed a
 * leak meanwhile (another test's, left behind): then at most the baseline (see {@link NativeAccounting}).
 */
abstract class NativeBaselineTest
{
    long baseline;
    private long leaksBefore;

    @BeforeEach
    void recordBaseline()
    {
        leaksBefore = NativeMemory.leaks();
        baseline = NativeMemory.reservedBytes();
    }

    @AfterEach
    void nativeMemoryBackToBaseline()
    {
        // bytes first: the safety net counts a leak before it frees its bytes, so a free seen here is counted below
        final long reserved = NativeMemory.reservedBytes();
        if (NativeMemory.leaks() == leaksBefore)
        {
            assertEquals(baseline, reserved, "native memory not returned");
        }
        else
        {
            assertTrue(reserved <= baseline,
                "native memory not returned: " + (reserved - baseline) + " B over the baseline");
        }
    }

    /**
     * Collects garbage until the native memory is back to the baseline: what the test dropped was reclaimed by the
     * safety net. At most the baseline, since those collections may also free an earlier test's leak.
     */
    void awaitBaseline()
    {
        final long reserved = baseline;
        Awaitility.await("native memory back to the baseline").atMost(Duration.ofSeconds(20)).until(() ->
        {
            System.gc();
            return NativeAccounting.reservedBackTo(reserved);
        });
    }

    static SliceAllocator longs(final int capacity)
    {
        return SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(capacity).build();
    }
}
