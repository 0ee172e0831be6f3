package dev.lake.examples.flagship;

import dev.lake.memory.NativeMemory;
import org.junit.jupiter.api.Test;

import java.util.List;

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

    /**
     * The forked table's rows: runs arrive round by round (variant a, b, a, b, ...); each metric of a row is the
     * median of its own variant's runs, taken metric by metric (the middle one of an odd count, the mean of the
     * middle two of an even one), never mixed with the other variant's.
     */
    @Test
    void forkedRunsAreSummarisedByEachMetricsMedianPerVariant()
    {
        final List<MarketDataPipeline.Result> runs = List.of(
            result("a", 300, 9, 1), result("b", 10, 1, 7),
            result("a", 100, 7, 5), result("b", 30, 3, 7),
            result("a", 200, 8, 3), result("b", 20, 2, 9));
        final List<MarketDataPipeline.Result> medians = MarketDataPipeline.medians(new String[]{"a", "b"}, runs);
        assertEquals(List.of(result("a", 200, 8, 3), result("b", 20, 2, 7)), medians);

        final List<MarketDataPipeline.Result> even = MarketDataPipeline.medians(new String[]{"a"},
            List.of(result("a", 100, 1, 2), result("a", 400, 7, 5)));
        assertEquals(List.of(result("a", 250, 4, 4)), even, "even count: the mean of the middle two, GCs rounded");
    }

    /** Two runs of one variant that built different books are not summarised: the run is wrong, not slow. */
    @Test
    void runsThatBuiltDifferentBooksAreRefused()
    {
        final MarketDataPipeline.Result other = new MarketDataPipeline.Result("a", 1, 1, 1, 1, 0, 0, 43);
        final IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> MarketDataPipeline.medians(new String[]{"a"}, List.of(result("a", 1, 1, 1), other)));
        assertTrue(e.getMessage().contains("built different books"), e.getMessage());
    }

    /** A result whose msgs/s, latencies and B/msg all scale with {@code speed} and {@code tail}. */
    private static MarketDataPipeline.Result result(final String name, final double speed, final double tail,
        final long gcs)
    {
        return new MarketDataPipeline.Result(name, speed, tail, tail * 10, tail * 100, speed / 100, gcs, 42);
    }

    private static MarketDataPipeline.Result run(final Transport<?> transport) throws Exception
    {
        try (transport)
        {
            return new MarketDataPipeline.Run<>(transport, MESSAGES, 0).execute();
        }
    }
}
