package dev.lake.pool;

import dev.lake.memory.Memory;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Findings of the fourth hostile review of the pool's buffers and bytes (siblings of the third round's fixes): each
 * test fails on the code before its fix.
 */
class FourthReviewPoolTest
{
    /**
     * {@code Bytes.retain()} and {@code slice()} raised the slot's reference count, then made the new {@code Bytes}
     * on the heap; {@code Buffer.freeze()} marked the buffer frozen and counted the freeze, then made its {@code Bytes}.
     * An {@code OutOfMemoryError} at that last step (a full heap) left a reference nobody holds (the slot never went
     * back to the arena) or a frozen buffer with no {@code Bytes} (its {@code close()} does nothing when frozen): the
     * slot lost for good. The third round fixed this class (native memory held across a Java allocation that can fail)
     * in {@code Region} only. A child JVM with a small, nearly full heap retains, slices and freezes until the heap
     * refuses them, then releases and closes everything: every slot must be back.
     */
    @Test
    void retainSliceAndFreezeThatRunOutOfHeapLoseNoSlot() throws Exception
    {
        for (final String first : new String[] {"0", "1", "2"}) // each of the three meets the first refusals
        {
            final String out = probe(first);
            assertTrue(out.contains("probe: live slots 0 after"), out);
            assertFalse(out.contains(" after 0 refusals"), out); // the heap did refuse some
        }
    }

    private static String probe(final String first) throws Exception
    {
        return dev.lake.testing.ChildJvm.runOnSmallHeap(HeapExhaustionProbe.class, first);
    }

    /** The child JVM of {@link #retainSliceAndFreezeThatRunOutOfHeapLoseNoSlot()}. */
    public static final class HeapExhaustionProbe
    {
        private HeapExhaustionProbe()
        {
        }

        public static void main(final String[] args)
        {
            final int shift = Integer.parseInt(args[0]);
            final FixedArena arena = FixedArena.builder(1024, 64).build();
            final Bytes root = arena.allocate().putLong(42).freeze();
            root.retain().release();
            root.slice(0, 8).release();
            final Buffer[] buffers = new Buffer[1000];
            for (int i = 0; i < buffers.length; i++)
            {
                buffers[i] = arena.allocate();
                buffers[i].putLong(i);
            }
            buffers[0].freeze().release(); // links the paths before the heap is full
            // what each operation made is kept until the end: a result released at once may be scalar-replaced by
            // the JIT (JDK 25 does), and then the operation allocates nothing and the heap never refuses it
            final Bytes[] kept = new Bytes[300];
            int next = 1;
            int done = 0;
            int refused = 0;
            final dev.lake.testing.HeapFiller fillers = dev.lake.testing.HeapFiller.fill(1 << 21);
            final int n = fillers.count();
            for (int k = n - 1; done < 300 && refused < 4000 && next < buffers.length && fillers.freeOne(); k--)
            {
                try
                {
                    switch (((k - n + 1 + shift) % 3 + 3) % 3)
                    {
                        case 0 -> kept[done] = root.retain();
                        case 1 -> kept[done] = root.slice(0, 8);
                        default ->
                        {
                            final Buffer b = buffers[next];
                            next++;
                            kept[done] = b.freeze();
                        }
                    }
                    done++;
                }
                catch (final OutOfMemoryError ex)
                {
                    refused++;
                }
            }
            fillers.freeAll();
            for (final Bytes b : kept)
            {
                if (b != null)
                {
                    b.release();
                }
            }
            root.release();
            for (final Buffer b : buffers)
            {
                b.close(); // a buffer whose freeze failed still holds its slot: close gives it back
            }
            System.out.println("probe: live slots " + arena.liveSlots() + " after " + refused + " refusals and " +
                done + " done (" + n + " fillers, first operation " + shift + ")");
            System.out.flush();
            arena.close();
        }
    }
}
