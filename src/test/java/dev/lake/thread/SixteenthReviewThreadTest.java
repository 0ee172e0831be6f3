package dev.lake.thread;

import dev.lake.linear.Lake;
import net.openhft.affinity.Affinity;
import org.junit.jupiter.api.Test;

import java.util.BitSet;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The sixteenth review of {@code dev.lake.thread}: strict mode and the lake's buffer, an affinity hint reported
 * ignored, {@code init()} after {@code close()}.
 */
class SixteenthReviewThreadTest
{
    private static final int CAPACITY = 4096;

    /**
     * Strict mode promised that any use of a lake from another thread throws, but {@code buffer()} checked nothing:
     * {@code lake.buffer().putLong(at, v)} from another thread wrote into a strict lake.
     */
    @Test
    void anotherThreadIsRefusedTheBufferOfAStrictLake() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(1).strict(true).build())
        {
            final Lake lake = lakes.init();
            try
            {
                final int at = lake.allocate(8);
                lake.buffer().putLong(at, 1L);
                final AtomicReference<Throwable> refused = new AtomicReference<>();
                final Thread other = new Thread(() ->
                {
                    try
                    {
                        lake.buffer().putLong(at, 0xBADL);
                    }
                    catch (final Throwable ex)
                    {
                        refused.set(ex);
                    }
                });
                other.start();
                other.join();
                assertInstanceOf(IllegalStateException.class, refused.get());
                assertEquals(1L, lake.buffer().getLong(at));
            }
            finally
            {
                lakes.release();
            }
        }
    }

    /**
     * A pooled strict lake is confined to a thread that never runs, so that its former owner cannot keep using it
     * after {@code release()}; through {@code buffer()} it still could, and overwrote what the next owner stored.
     */
    @Test
    void theFormerOwnerOfAStrictLakeIsRefusedItsBufferOnceTheNextOwnerHasIt() throws Exception
    {
        try (ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(1).strict(true).build())
        {
            final Lake mine = lakes.init();
            final int at = mine.allocate(8);
            lakes.release();
            assertThrows(IllegalStateException.class, mine::buffer); // pooled: confined to no running thread

            final AtomicReference<Lake> next = new AtomicReference<>();
            final Thread owner = new Thread(() ->
            {
                final Lake lake = lakes.init(); // the pool's one lake; this thread ends holding it
                lake.buffer().putLong(lake.allocate(8), 7L);
                next.set(lake);
            });
            owner.start();
            owner.join();
            assertSame(mine, next.get());
            assertThrows(IllegalStateException.class, () -> mine.buffer().putLong(at, 0xBADL));
            final Lake back = lakes.init(); // the dead owner's lake, given back by the scan and handed to this thread
            assertSame(mine, back);
            assertEquals(7L, back.buffer().getLong(at), "the refused write changed nothing");
            lakes.release();
        }
    }

    /**
     * A pinning hint that the operating system applies only in part ({1, an absent CPU}: Linux pins to the
     * intersection) is reported ignored ({@code false}, logged), and ignored must mean the thread stays where it
     * was: it was left pinned to the part.
     */
    @Test
    void aHintTheOperatingSystemAppliesOnlyInPartLeavesTheThreadWhereItWas() throws Exception
    {
        final AtomicReference<Object[]> seen = new AtomicReference<>();
        final Thread t = new Thread(() ->
        {
            final BitSet before = Affinity.getAffinity();
            if (before.cardinality() < 2)
            {
                seen.set(new Object[] {before, null, null});
                return;
            }
            final BitSet asked = new BitSet();
            asked.set(before.nextSetBit(0));
            asked.set(Math.max(before.length(), Runtime.getRuntime().availableProcessors()) + 64); // not a CPU here
            final boolean honoured = AffinityHint.anyOf(asked, "in part").applyToCurrentThread();
            seen.set(new Object[] {before, honoured, Affinity.getAffinity()});
        });
        t.start();
        t.join();
        final Object[] result = seen.get();
        assertNotNull(result);
        assumeTrue(result[1] != null, "needs a thread allowed on at least two CPUs: " + result[0]);
        assertFalse((Boolean)result[1], "a CPU the machine lacks cannot be honoured");
        assertEquals(result[0], result[2], "reported ignored, the hint still moved the thread");
    }

    /**
     * {@code close()} said later {@code init()} calls throw; a thread still holding its lake gets it back until it
     * releases it (its lease outlives the close), which is what the Javadoc now says; one that holds none is refused.
     */
    @Test
    void initAfterCloseGivesAHoldingThreadItsLakeAndRefusesOneWithout() throws Exception
    {
        final ThreadLakes lakes = ThreadLakes.builder(CAPACITY).poolBound(1).build();
        final Lake lake = lakes.init();
        lakes.close();
        assertSame(lake, lakes.init());
        final AtomicReference<Throwable> other = new AtomicReference<>();
        final Thread t = new Thread(() ->
        {
            try
            {
                lakes.init();
            }
            catch (final Throwable ex)
            {
                other.set(ex);
            }
        });
        t.start();
        t.join();
        assertInstanceOf(IllegalStateException.class, other.get());
        lakes.release(); // closed thread lakes close the lake they get back
        assertFalse(lake.isOpen());
        assertThrows(IllegalStateException.class, lakes::init);
    }
}
