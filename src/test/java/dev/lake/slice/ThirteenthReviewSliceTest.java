package dev.lake.slice;

import dev.lake.testing.ChildJvm;
import dev.lake.testing.PollingProbe;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Thirteenth review of the slice allocator: each test failed on the code before its fix.
 */
class ThirteenthReviewSliceTest extends NativeBaselineTest
{
    /**
     * {@code isClosed()} read a plain field: a monitor thread polling it while the allocating thread shuts down (the
     * sibling of the ninth round's {@code SharedHandle.isReleased()} and of the pool's {@code isClosed()}, which is
     * volatile) had the read hoisted out of its loop by the JIT and never saw the close. A child JVM polls while its
     * main thread closes.
     */
    @Test
    void aThreadPollingIsClosedSeesTheOwnersClose() throws Exception
    {
        final String output = ChildJvm.run(ClosePollingProbe.class, true);
        assertTrue(output.contains("isClosed until closed: saw it"), output);
    }

    /** Polls {@code isClosed()} on a thread of its own until it changes; prints whether it saw the change. */
    static final class ClosePollingProbe
    {
        public static void main(final String[] args) throws Exception
        {
            final SliceAllocator allocator = SliceAllocator.builder(ElementLayout.LONG).build();
            allocator.allocateLongs(4, i -> i).release(); // binds the allocator to this (the main) thread
            final String outcome = PollingProbe.pollWhile(() -> !allocator.isClosed(), allocator::close);
            System.out.println("isClosed until closed: " + outcome);
        }
    }

    /**
     * An allocation refused by a {@link StackOverflowError} (made deep in a recursion, or with an initializer that
     * recursed to the edge of the stack) left the allocator's "inside an initializer" flag set for good: the flag was
     * cleared inside {@code finish()} or {@code abort()}, and a call at the edge of the stack is refused before it runs.
     * From then on every allocation threw "cannot allocate from inside an initializer" and {@code close()} "cannot close
     * a SliceAllocator from inside an initializer": the allocator was wedged and its chunk never given back. Each of
     * the handle, reference, local (fast path and general path) and value allocations is tried at every depth of a
     * recursion that overflows the stack, in a child JVM; the allocator must still allocate and close afterwards.
     */
    @Test
    void anAllocationRefusedByAStackOverflowLeavesTheAllocatorUsableAndClosable() throws Exception
    {
        final String output = ChildJvm.run(StackOverflowProbe.class, true);
        assertFalse(output.contains("wedged"), output);
        for (final String mode : StackOverflowProbe.MODES)
        {
            assertTrue(output.contains(mode + ": allocates and closes"), output);
        }
    }

    /** Allocates at every depth of a recursion that overflows the stack, then checks the allocator still works. */
    static final class StackOverflowProbe
    {
        static final String[] MODES = {"handle", "reference", "local longs", "local ints", "value"};
        // made before the recursion: linking a lambda at the edge of the stack fails in the JDK, not in Lake
        private static final LongInit LONGS = i -> i;
        private static final IntInit INTS = i -> i;

        public static void main(final String[] args)
        {
            for (int mode = 0; mode < MODES.length; mode++)
            {
                final SliceAllocator allocator =
                    SliceAllocator.builder(mode == 3 ? ElementLayout.INT : ElementLayout.LONG).chunkCapacity(16).build();
                final SliceReader reader = new SliceReader();
                String outcome = MODES[mode] + ": allocates and closes";
                try
                {
                    for (int round = 0; round < 6; round++)
                    {
                        // witnesses held across the storm: a chunk reset or freed under them shows in their bytes
                        final SharedSlice witness = mode == 3 ? allocator.allocateInts(5, i -> 7_000 + i) :
                            allocator.allocateLongs(5, i -> 7_000 + i);
                        recurse(allocator, reader, mode, 0);
                        allocateOnce(allocator, reader, mode, 3);
                        for (int i = 0; i < 5; i++)
                        {
                            final long value = mode == 3 ? witness.getInt(i) : witness.getLong(i);
                            if (value != 7_000 + i)
                            {
                                throw new AssertionError("a live slice's bytes changed: " + value);
                            }
                        }
                        witness.release();
                    }
                    allocator.close();
                }
                catch (final Throwable ex)
                {
                    outcome = MODES[mode] + ": wedged: " + ex;
                }
                System.out.println(outcome);
            }
        }

        private static void recurse(final SliceAllocator allocator, final SliceReader reader, final int mode, final int depth)
        {
            try
            {
                recurse(allocator, reader, mode, depth + 1);
            }
            catch (final StackOverflowError deepest)
            {
                // the deepest frame: allocate from here on, on the way back up
            }
            try
            {
                allocateOnce(allocator, reader, mode, 1 + (depth & 7));
            }
            catch (final StackOverflowError refused)
            {
                // refused at the edge of the stack: allowed, but it must cost the allocator nothing more
            }
        }

        private static void allocateOnce(final SliceAllocator allocator, final SliceReader reader, final int mode, final int n)
        {
            if (reader.isBound())
            {
                reader.close(); // a local slice whose close the overflow refused, one frame deeper
            }
            switch (mode)
            {
                case 0 -> allocator.allocateLongs(n, LONGS).release();
                case 1 -> allocator.release(allocator.allocateLongsRef(n, LONGS));
                case 2 ->
                {
                    allocator.allocateLocalLongs(n, LONGS, reader);
                    reader.close();
                }
                case 3 ->
                {
                    allocator.allocateLocalInts(n, INTS, reader);
                    reader.close();
                }
                default -> allocator.allocateValue((long)n).release();
            }
        }
    }
}
