package dev.lake.examples.flagship;

import dev.lake.memory.NativeMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The flagship's claims, checked on a short run: every transport processes the same messages (same book
 * checksum), releases every message, and the Lake transport allocates no heap per message.
 */
class MarketDataPipelineTest
{
    private static final long MESSAGES = 30_000;

    @Test
    void everyTransportBuildsTheSameBookAndLakeAllocatesNothingPerMessage() throws Exception
    {
        final long baseline = NativeMemory.reservedBytes();
        final MarketDataPipeline.Result lake = run(new LakeTransport());
        final MarketDataPipeline.Result netty = run(new NettyTransport());
        final MarketDataPipeline.Result heap = run(new HeapTransport());

        assertEquals(heap.checksum(), lake.checksum(), "Lake and heap decoded the same stream");
        assertEquals(heap.checksum(), netty.checksum(), "Netty and heap decoded the same stream");
        assertTrue(lake.bytesPerMessage() < 1.0, "Lake heap bytes per message: " + lake.bytesPerMessage());
        assertTrue(heap.bytesPerMessage() >= MarketDataPipeline.MESSAGE_CAPACITY,
            "the heap baseline allocates a byte[] per message: " + heap.bytesPerMessage());
        assertEquals(baseline, NativeMemory.reservedBytes(), "the Lake transport freed its arena");
    }

    private static MarketDataPipeline.Result run(final Transport<?> transport) throws Exception
    {
        try (transport)
        {
            return new MarketDataPipeline.Run<>(transport, MESSAGES, 0).execute();
        }
    }
}
