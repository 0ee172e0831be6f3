package dev.lake.slice;

import dev.lake.memory.NativeMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every test of a subclass must give back all the native memory it reserved.
 */
abstract class NativeBaselineTest
{
    long baseline;

    @BeforeEach
    void recordBaseline()
    {
        baseline = NativeMemory.reservedBytes();
    }

    @AfterEach
    void nativeMemoryBackToBaseline()
    {
        assertEquals(baseline, NativeMemory.reservedBytes(), "native memory not returned");
    }

    static SliceAllocator longs(final int capacity)
    {
        return SliceAllocator.builder(ElementLayout.LONG).chunkCapacity(capacity).build();
    }
}
