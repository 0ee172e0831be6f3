package dev.lake.memory;

import dev.lake.linear.Lake;
import dev.lake.testing.NativeAccounting;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.lang.ref.Reference;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The sixteenth review of the ground: a buffer of the caller's own over a region's bytes, as the refusal of
 * {@code wrap} advises, and the leak safety net.
 */
class SixteenthReviewMemoryTest
{
    private static final String HELD = "Region[4093 B";
    private static final String DROPPED = "Region[4091 B";

    /**
     * A lake left unclosed (a leak) while the caller reads and writes its bytes through a buffer of its own, made the
     * way the refusal of {@code wrap} says ({@code new UnsafeBuffer(lake.buffer(), at, length)}): the region's view
     * returned no {@code byteBuffer()}, the one thing Agrona's wrap keeps of its source, so nothing held the region
     * and the safety net freed it while the caller's buffer still addressed it (the next read: freed memory). Now the
     * view's {@code byteBuffer()} is the region's NIO view, whose attachment is the region: it stays until the caller's
     * buffer goes. A second lake, dropped with nothing over it, shows the collections ran and the safety net worked
     * through them.
     */
    @Test
    void aBufferOfTheCallersOwnOverALeakedLakeKeepsItsMemoryUntilTheBufferGoes() throws InterruptedException
    {
        final long heldReports = NativeAccounting.reportsNaming(HELD);
        final long droppedReports = NativeAccounting.reportsNaming(DROPPED);
        UnsafeBuffer mine = leakLakeUnder(4093);
        leakLakeUnder(4091);
        await("the dropped lake's region reclaimed").atMost(Duration.ofSeconds(20)).until(() ->
        {
            System.gc();
            return NativeAccounting.reportsNaming(DROPPED) > droppedReports;
        });
        cleanerPass();
        cleanerPass(); // whatever the collections found unreachable has been cleaned by now
        assertEquals(heldReports, NativeAccounting.reportsNaming(HELD),
            "the safety net freed a region that a reachable buffer of the caller's still addresses");
        assertEquals(0x0123_4567_89AB_CDEFL, mine.getLong(8));
        Reference.reachabilityFence(mine);
        mine = null;
        await("the held lake's region reclaimed once the caller's buffer went").atMost(Duration.ofSeconds(20)).until(() ->
        {
            System.gc();
            return NativeAccounting.reportsNaming(HELD) > heldReports;
        });
    }

    /** What the region's view gives Agrona's wrap: the region's own NIO view while open, nothing once closed. */
    @Test
    void theRegionsViewOffersItsNioViewToWrapWhileOpenAndNothingOnceClosed()
    {
        final Region region = Region.allocate(256);
        final UnsafeBuffer mine = new UnsafeBuffer(region.buffer(), 16, 32);
        assertSame(region.byteBuffer(), mine.byteBuffer());
        assertSame(region.byteBuffer(), region.buffer().byteBuffer());
        mine.putLong(0, 7L);
        assertEquals(7L, region.buffer().getLong(16));
        region.close();
        assertNull(region.buffer().byteBuffer());
        assertEquals(0, region.buffer().capacity());
        if (UnsafeBuffer.SHOULD_BOUNDS_CHECK)
        {
            assertThrows(IndexOutOfBoundsException.class, () -> new UnsafeBuffer(region.buffer(), 16, 32));
        }
        assertThrows(IllegalStateException.class, region::byteBuffer);
    }

    /** A lake left unclosed, with a buffer of the caller's own over 64 of its bytes; only the buffer is returned. */
    private static UnsafeBuffer leakLakeUnder(final int capacity)
    {
        final Lake lake = Lake.of(capacity);
        final int at = lake.allocate(64);
        assertThrows(UnsupportedOperationException.class, () -> lake.buffer().wrap(0L, 0));
        final UnsafeBuffer mine = new UnsafeBuffer(lake.buffer(), at, 64);
        mine.putLong(8, 0x0123_4567_89AB_CDEFL);
        assertNotNull(mine.byteBuffer());
        return mine;
    }

    /** Registers an action on the safety net's Cleaner and collects until it ran: one pass of its queue. */
    private static void cleanerPass()
    {
        final AtomicBoolean ran = new AtomicBoolean();
        NativeMemory.cleaner().register(new Object(), () -> ran.set(true));
        await("a pass of the Cleaner").atMost(Duration.ofSeconds(20)).until(() ->
        {
            System.gc();
            return ran.get();
        });
    }
}
